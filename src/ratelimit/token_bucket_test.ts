import assert from "node:assert/strict";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("TokenBucket.take() allows a burst, then refuses until tokens refill", () => {
  const bucket = new TokenBucket(2, 3, 0);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), true);
  assert.equal(bucket.take(0), false);
  assert.equal(bucket.retryAfterMs(0), 500);
  assert.equal(bucket.take(499), false);
  assert.equal(bucket.take(500), true);
  assert.equal(bucket.take(500), false);
});

Deno.test("TokenBucket refills no higher than its burst", () => {
  const bucket = new TokenBucket(10, 5, 0);
  for (let i = 0; i < 5; i++) assert.equal(bucket.take(0), true);
  assert.equal(bucket.tokens(60_000), 5);
  assert.equal(bucket.take(60_000, 5), true);
  assert.equal(bucket.take(60_000), false);
});

Deno.test("TokenBucket with rate 0 is unlimited", () => {
  const bucket = new TokenBucket(0, 0, 0);
  for (let i = 0; i < 10_000; i++) assert.equal(bucket.take(0), true);
  assert.equal(bucket.consume(0, 1e12), 0);
  assert.equal(bucket.retryAfterMs(0), 0);
});

Deno.test("TokenBucket burst 0 means one second's worth of rate, at least 1", () => {
  assert.equal(new TokenBucket(50, 0).burst, 50);
  assert.equal(new TokenBucket(0.1, 0).burst, 1);
});

Deno.test("TokenBucket.take(n) takes n tokens at once or none", () => {
  const bucket = new TokenBucket(1, 10, 0);
  assert.equal(bucket.take(0, 7), true);
  assert.equal(bucket.take(0, 4), false);
  assert.equal(bucket.tokens(0), 3);
  assert.equal(bucket.retryAfterMs(0, 11), Infinity);
});

Deno.test("TokenBucket.consume() goes into debt and answers the wait that repays it", () => {
  const bucket = new TokenBucket(1000, 100, 0); // 1 token per ms
  assert.equal(bucket.consume(0, 100), 0);
  assert.equal(bucket.consume(0, 50), 50);
  assert.equal(bucket.consume(50, 50), 50);
  assert.equal(bucket.consume(100, 0), 0);
  assert.equal(bucket.tokens(100), 0);
});

Deno.test("TokenBucket ignores a clock that goes back instead of refilling", () => {
  const bucket = new TokenBucket(1, 1, 10_000);
  assert.equal(bucket.take(10_000), true);
  assert.equal(bucket.take(5_000), false);
  // Time is measured from the latest reading, so the jump back costs at most one interval.
  assert.equal(bucket.take(6_000), true);
});

Deno.test("TokenBucket.setRate() keeps tokens, clamped to the new burst", () => {
  const bucket = new TokenBucket(10, 10, 0);
  bucket.setRate(1, 2);
  assert.equal(bucket.tokens(0), 2);
  assert.equal(bucket.take(0, 2), true);
  assert.equal(bucket.take(0), false);
});

Deno.test("TokenBucket.refund() gives tokens back up to the burst", () => {
  const bucket = new TokenBucket(1, 2, 0);
  bucket.take(0);
  bucket.take(0);
  bucket.refund();
  bucket.refund();
  bucket.refund();
  assert.equal(bucket.tokens(0), 2);
});

Deno.test("TokenBucket rejects a negative or non-finite rate with a RangeError", () => {
  assert.throws(() => new TokenBucket(-1), RangeError);
  assert.throws(() => new TokenBucket(NaN), RangeError);
  assert.throws(() => new TokenBucket(1, Infinity), /burst/);
});
