import { ManualClock } from "../clock/mod.ts";
import assert from "node:assert/strict";
import { createBalancer, type RelayEntry } from "../balancer/mod.ts";
import { applyScoreHook, type ScoreHook } from "./score_hook.ts";

function relay(peerId: string, reservations: number): RelayEntry {
  return {
    peerId,
    addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${peerId}`],
    state: "alive",
    verdict: "healthy",
    draining: false,
    weight: 1,
    capacity: { maxReservations: 100, maxCircuits: 0, bandwidthBytesPerSecond: 0 },
    load: {
      reservations,
      circuits: 0,
      bytesPerSecondIn: 0,
      bytesPerSecondOut: 0,
      cpu: 0,
      memoryBytes: 0,
    },
  };
}

function setup() {
  const balancer = createBalancer();
  balancer.upsert(relay("a", 10)); // 0.9
  balancer.upsert(relay("b", 20)); // 0.8
  balancer.upsert(relay("c", 30)); // 0.7
  const ranking = balancer.select({ n: 3 });
  return { ranking, entryOf: (p: string) => balancer.get(p) };
}

async function run(hook: ScoreHook, n = 3, timeoutMs = 50, clock = new ManualClock()) {
  const { ranking, entryOf } = setup();
  const result = await applyScoreHook(ranking, { entryOf, hook, hints: {}, n, timeoutMs, clock });
  return { outcome: result.outcome, ids: result.selection.relays.map((r) => r.peerId), result };
}

Deno.test("applyScoreHook() adds the hook's deltas and re-ranks", async () => {
  const seen: unknown[] = [];
  const { outcome, ids, result } = await run((candidates, hints) => {
    seen.push(
      candidates.map((c) => [c.peerId, Math.round(c.score * 10) / 10, c.load.reservations]),
      hints,
    );
    return Promise.resolve([0, 0, 0.5]);
  });
  assert.equal(outcome, "ok");
  assert.deepEqual(ids, ["c", "a", "b"]);
  assert.ok(Math.abs(result.selection.relays[0]!.score - 1.2) < 1e-9);
  assert.deepEqual(seen[0], [["a", 0.9, 10], ["b", 0.8, 20], ["c", 0.7, 30]]);
  assert.equal(result.selection.algorithm, "capacity");
});

Deno.test("applyScoreHook() drops a candidate whose adjusted score is 0 or less, then cuts to n", async () => {
  const { ids } = await run(() => Promise.resolve([-5, 0, 0]), 1);
  assert.deepEqual(ids, ["b"]);
});

Deno.test("applyScoreHook() keeps the ranking when the hook fails, and says how", async (t) => {
  const cases: Array<[string, ScoreHook, string]> = [
    ["throws", () => Promise.reject(new Error("boom")), "error"],
    ["throws synchronously", () => {
      throw new Error("boom");
    }, "error"],
    ["answers too few numbers", () => Promise.resolve([1]), "invalid"],
    ["answers NaN", () => Promise.resolve([0, NaN, 0]), "invalid"],
    ["answers strings", () => Promise.resolve(["1", "2", "3"] as unknown as number[]), "invalid"],
    ["has no opinion", () => undefined, "none"],
  ];
  for (const [name, hook, outcome] of cases) {
    await t.step(name, async () => {
      const result = await run(hook, 2, 50);
      assert.equal(result.outcome, outcome);
      assert.deepEqual(result.ids, ["a", "b"]);
    });
  }
});

Deno.test("applyScoreHook() keeps the ranking when the hook answers after its timeout", async () => {
  const clock = new ManualClock();
  const { ranking, entryOf } = setup();
  const slow: ScoreHook = () =>
    new Promise((resolve) => clock.setTimeout(() => resolve([1, 1, 1]), 200));
  const call = { entryOf, hook: slow, hints: {}, n: 2, timeoutMs: 50, clock };
  let outcome: string | undefined;
  const pending = applyScoreHook(ranking, call).then((result) => {
    outcome = result.outcome;
    return result;
  });
  await clock.advanceAsync(49);
  assert.equal(outcome, undefined);
  await clock.advanceAsync(1);
  const result = await pending;
  assert.equal(result.outcome, "timeout");
  assert.deepEqual(result.selection.relays.map((r) => r.peerId), ["a", "b"]);
});
