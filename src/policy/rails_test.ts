import assert from "node:assert/strict";
import { actionKey, banCap, Cooldowns, Hysteresis, RestartBudget } from "./rails.ts";

Deno.test("Hysteresis passes a key asked for in N of the last M ticks", () => {
  const h = new Hysteresis(2, 3);
  assert.equal(h.record(["drain"])("drain"), false);
  assert.equal(h.record([])("drain"), false);
  assert.equal(h.record(["drain"])("drain"), true); // ticks: drain, -, drain
  assert.equal(h.record([])("drain"), false); // -, drain, -: only one in the window
  const once = new Hysteresis(1, 1);
  assert.equal(once.record(["x"])("x"), true);
});

Deno.test("Cooldowns hold a key back for the cooldown after it ran", () => {
  const c = new Cooldowns(1_000);
  assert.equal(c.ready("drain", 0), true);
  c.ran("drain", 0);
  assert.equal(c.ready("drain", 999), false);
  assert.equal(c.ready("resume", 999), true);
  assert.equal(c.ready("drain", 1_000), true);
});

Deno.test("RestartBudget allows N restarts per window and can be reset", () => {
  const b = new RestartBudget(2, 10_000, [0]);
  assert.equal(b.exhausted(1), false);
  b.spend(1);
  assert.equal(b.exhausted(2), true);
  assert.equal(b.exhausted(10_000), false); // the restart at 0 left the window
  b.spend(10_000);
  assert.equal(b.exhausted(10_000), true);
  assert.deepEqual(b.times(10_000), [1, 10_000]);
  b.reset();
  assert.equal(b.exhausted(10_001), false);
  assert.deepEqual(b.times(10_001), []);
});

Deno.test("banCap is a fraction of connected peers, at least one unless zero", () => {
  assert.equal(banCap(0.1, 100), 10);
  assert.equal(banCap(0.1, 5), 1);
  assert.equal(banCap(0, 100), 0);
});

Deno.test("actionKey keeps targets apart", () => {
  assert.notEqual(
    actionKey({ type: "ban", peer: "a".repeat(46), ttlMs: 1 }),
    actionKey({ type: "ban", cidr: "10.0.0.0/8", ttlMs: 1 }),
  );
  assert.equal(actionKey({ type: "drain" }), "drain");
  assert.equal(actionKey({ type: "runHook", name: "x" }), "runHook:x");
});
