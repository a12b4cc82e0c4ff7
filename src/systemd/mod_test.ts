import assert from "node:assert/strict";
import { ManualClock } from "../clock/mod.ts";
import { systemdNotifier } from "./mod.ts";

const decoder = new TextDecoder();

/** A fake service manager: a unixpacket socket collecting what the notifier sends. */
async function fakeManager() {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/notify`;
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const messages: string[] = [];
  const waiters: (() => void)[] = [];
  const pump = (async () => {
    try {
      for await (const [data] of socket) {
        messages.push(decoder.decode(data));
        waiters.splice(0).forEach((wake) => wake());
      }
    } catch {
      // closed
    }
  })();
  return {
    path,
    messages,
    /** Resolves once `count` messages have arrived (each arrival wakes it). */
    async until(count: number) {
      while (messages.length < count) await new Promise<void>((r) => waiters.push(r));
    },
    async close() {
      socket.close();
      await pump;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("systemdNotifier() without NOTIFY_SOCKET does nothing", async () => {
  const notifier = systemdNotifier({});
  assert.equal(notifier.enabled, false);
  await notifier.ready("x");
  await notifier.stopping("y");
  notifier.close();
});

Deno.test("systemdNotifier() sends READY=1, watchdog pings at half WATCHDOG_USEC, then STOPPING=1", async () => {
  const manager = await fakeManager();
  const clock = new ManualClock();
  const notifier = systemdNotifier(
    { NOTIFY_SOCKET: manager.path, WATCHDOG_USEC: "100000" },
    clock,
  );
  try {
    await notifier.ready("serving");
    await manager.until(1);
    assert.match(manager.messages[0]!, /^READY=1\nSTATUS=serving\nMAINPID=\d+$/);
    clock.advance(49);
    // A marker sent now arrives after any ping the 49 ms sent (one sender, in order).
    await notifier.status("marker");
    await manager.until(2);
    assert.equal(manager.messages[1], "STATUS=marker", "no ping before half the interval");
    clock.advance(1);
    await manager.until(3);
    clock.advance(50);
    await manager.until(4);
    assert.deepEqual(manager.messages.slice(2), ["WATCHDOG=1", "WATCHDOG=1"]);
    await notifier.stopping("draining");
    await manager.until(5);
    assert.equal(manager.messages.at(-1), "STOPPING=1\nSTATUS=draining");
    assert.equal(clock.pendingTimers, 0, "watchdog pings must stop after STOPPING=1");
  } finally {
    notifier.close();
    await manager.close();
  }
});

Deno.test("systemdNotifier() skips watchdog pings meant for another process", async () => {
  const manager = await fakeManager();
  const clock = new ManualClock();
  const notifier = systemdNotifier({
    NOTIFY_SOCKET: manager.path,
    WATCHDOG_USEC: "50000",
    WATCHDOG_PID: String(Deno.pid + 1),
  }, clock);
  try {
    await notifier.ready("serving");
    await manager.until(1);
    assert.equal(clock.pendingTimers, 0, "no watchdog timer for another process");
    assert.equal(manager.messages.length, 1);
  } finally {
    notifier.close();
    await manager.close();
  }
});
