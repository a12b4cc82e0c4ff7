import assert from "node:assert/strict";
import { ManualClock } from "../clock/mod.ts";
import { backoffDelayMs, MemberDialer } from "./member_dialer.ts";

Deno.test("backoffDelayMs() doubles from 500 ms to a 30 s ceiling, with jitter between half and all", () => {
  assert.equal(backoffDelayMs(1, () => 0), 250);
  assert.equal(backoffDelayMs(1, () => 0.999999), 499.99975);
  assert.equal(backoffDelayMs(2, () => 0), 500);
  assert.equal(backoffDelayMs(3, () => 1), 2_000);
  assert.equal(backoffDelayMs(7, () => 1), 30_000);
  assert.equal(backoffDelayMs(1_000, () => 1), 30_000);
  assert.equal(backoffDelayMs(1_000, () => 0), 15_000);
});

function harness(failures: number) {
  const clock = new ManualClock();
  const dials: string[] = [];
  let connected = false;
  let remaining = failures;
  const errors: number[] = [];
  const dialer = new MemberDialer({
    dial: (peerId) => {
      dials.push(peerId);
      if (remaining-- > 0) return Promise.reject(new Error("refused"));
      connected = true;
      return Promise.resolve();
    },
    isConnected: () => connected,
    random: () => 1,
    clock,
    onDialError: (_peer, _error, delayMs) => errors.push(delayMs),
  });
  // Moves the clock to the pending redial (the last delay told), letting the dial settle.
  const fire = () => clock.advanceAsync(errors.at(-1)!);
  return {
    dialer,
    dials,
    errors,
    clock,
    fire,
    disconnect: () => (connected = false),
  };
}

Deno.test("MemberDialer redials a member with growing delays until it connects, then resets", async () => {
  const h = harness(3);
  h.dialer.setAddrs("a", ["/ip4/192.0.2.1/tcp/1/p2p/a"]);
  h.dialer.start();
  await h.clock.advanceAsync(0); // the first dial fails
  assert.deepEqual(h.dials, ["a"]);
  assert.deepEqual(h.errors, [500]);
  await h.fire();
  await h.fire();
  assert.deepEqual(h.errors, [500, 1_000, 2_000]);
  assert.equal(h.dialer.failuresOf("a"), 3);
  await h.fire();
  assert.equal(h.dials.length, 4);
  assert.equal(h.dialer.failuresOf("a"), 0);
  assert.equal(h.clock.pendingTimers, 0);
  // Connected: ensure() does nothing; after a disconnect it dials at once.
  h.dialer.ensure("a");
  assert.equal(h.dials.length, 4);
  h.disconnect();
  h.dialer.ensure("a");
  assert.equal(h.dials.length, 5);
});

Deno.test("MemberDialer dials nothing before start() and cancels its redials on stop()", async () => {
  const h = harness(10);
  h.dialer.setAddrs("a", ["/ip4/192.0.2.1/tcp/1/p2p/a"]);
  assert.deepEqual(h.dials, []);
  h.dialer.start();
  await h.clock.advanceAsync(0); // the first dial fails
  assert.equal(h.clock.pendingTimers, 1);
  // No second dial while one waits out its backoff.
  h.dialer.ensure("a");
  assert.equal(h.dials.length, 1);
  h.dialer.stop();
  assert.equal(h.clock.pendingTimers, 0);
  h.dialer.ensure("a");
  assert.equal(h.dials.length, 1);
  // Unknown members and empty address lists are ignored.
  h.dialer.setAddrs("b", []);
  assert.deepEqual(h.dialer.addrsOf("b"), []);
});
