import assert from "node:assert/strict";
import { KeyedLimiter } from "./keyed_limiter.ts";

Deno.test("KeyedLimiter keeps one bucket per key", () => {
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 100 });
  assert.equal(table.take("a", 0), true);
  assert.equal(table.take("a", 0), true);
  assert.equal(table.take("a", 0), false);
  assert.equal(table.take("b", 0), true);
  assert.equal(table.retryAfterMs("a", 0), 1000);
  assert.equal(table.take("a", 1000), true);
  assert.equal(table.size, 2);
});

Deno.test("KeyedLimiter with rate 0 allows everything and tracks nothing", () => {
  const table = new KeyedLimiter({ ratePerSecond: 0, maxKeys: 100 });
  for (let i = 0; i < 1000; i++) assert.equal(table.take(`k${i}`, 0), true);
  assert.equal(table.size, 0);
});

Deno.test("KeyedLimiter.sweep() drops buckets that refilled to burst and keeps the rest", () => {
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 2, maxKeys: 100 });
  table.take("idle", 0);
  table.take("busy", 0);
  table.take("busy", 0);
  // At 1 s "idle" is full again (1 + 1 ≥ 2); "busy" holds 1 token.
  assert.equal(table.sweep(1000), 1);
  assert.equal(table.has("idle"), false);
  assert.equal(table.has("busy"), true);
  assert.equal(table.tokens("busy", 1000), 1);
});

Deno.test("KeyedLimiter forgets an idle key without changing its verdicts", () => {
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100 });
  assert.equal(table.take("a", 0), true);
  table.sweep(5000);
  assert.equal(table.has("a"), false);
  assert.equal(table.take("a", 5000), true);
  assert.equal(table.take("a", 5000), false);
});

Deno.test("KeyedLimiter never tracks more than maxKeys, even for 1,000,000 distinct keys", () => {
  const maxKeys = 10_000;
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 5, maxKeys });
  let peak = 0;
  for (let i = 0; i < 1_000_000; i++) {
    // All at one instant: nothing refills, so only the bound can keep the table small.
    table.take(`10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}#${i}`, 0);
    if (table.size > peak) peak = table.size;
  }
  assert.equal(peak, maxKeys);
  assert.ok(table.evictions >= 1_000_000 - maxKeys);
});

Deno.test("KeyedLimiter at its bound keeps recently used keys (second chance) over one-off keys", () => {
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 3, maxKeys: 100 });
  table.take("attacker", 0);
  table.take("attacker", 0);
  table.take("attacker", 0);
  for (let i = 0; i < 10_000; i++) {
    table.take(`spray${i}`, 0);
    if (i % 50 === 0) table.take("attacker", 0);
  }
  // Still tracked, and still empty: flooding new keys did not reset its bucket.
  assert.equal(table.has("attacker"), true);
  assert.equal(table.take("attacker", 0), false);
});

Deno.test("KeyedLimiter new keys sweep idle buckets as they arrive", () => {
  const table = new KeyedLimiter({ ratePerSecond: 100, burst: 1, maxKeys: 1_000_000 });
  for (let i = 0; i < 100_000; i++) table.take(i, i); // one new key per ms; each idle 10 ms later
  assert.ok(table.size < 1_000, `size ${table.size}`);
});

Deno.test("KeyedLimiter.setRate() keeps bucket state; setMaxKeys() evicts down to the bound", () => {
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 10, maxKeys: 100 });
  for (let i = 0; i < 5; i++) table.take("a", 0);
  table.setRate(2, 10);
  assert.equal(table.tokens("a", 0), 5);
  assert.equal(table.tokens("a", 1000), 7);
  for (let i = 0; i < 50; i++) table.take(`k${i}`, 0);
  table.setMaxKeys(10);
  assert.equal(table.size, 10);
  for (let i = 0; i < 50; i++) table.take(`m${i}`, 0);
  assert.equal(table.size, 10);
  assert.throws(() => table.setMaxKeys(0), /maxKeys.*0/);
});

Deno.test("KeyedLimiter.refund() returns a token; delete() and clear() forget keys", () => {
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100 });
  table.take("a", 0);
  table.refund("a");
  assert.equal(table.take("a", 0), true);
  assert.equal(table.delete("a"), true);
  assert.equal(table.delete("a"), false);
  table.take("b", 0);
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(table.take("b", 0), true);
});
