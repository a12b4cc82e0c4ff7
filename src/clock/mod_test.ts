import assert from "node:assert/strict";
import { abortAfter, ManualClock, SYSTEM_CLOCK } from "./mod.ts";

Deno.test("ManualClock.advance() fires due timers in order, each reading its due time", () => {
  const clock = new ManualClock(1_000);
  const fired: string[] = [];
  clock.setTimeout(() => fired.push(`b@${clock.nowMs()}`), 200);
  clock.setTimeout(() => fired.push(`a@${clock.nowMs()}`), 100);
  const late = clock.setTimeout(() => fired.push("cancelled"), 150);
  clock.clearTimeout(late);
  clock.advance(99);
  assert.deepEqual(fired, []);
  clock.advance(101);
  assert.deepEqual(fired, ["a@1100", "b@1200"]);
  assert.equal(clock.nowMs(), 1_200);
  assert.equal(clock.monotonicMs(), 200);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("ManualClock intervals re-arm until cleared, and timers set while firing fire in the same advance", () => {
  const clock = new ManualClock(0);
  const ticks: number[] = [];
  const id = clock.setInterval(() => {
    ticks.push(clock.monotonicMs());
    if (ticks.length === 2) clock.setTimeout(() => ticks.push(-clock.monotonicMs()), 5);
  }, 10);
  clock.advance(35);
  assert.deepEqual(ticks, [10, 20, -25, 30]);
  clock.clearInterval(id);
  clock.advance(100);
  assert.equal(ticks.length, 4);
});

Deno.test("ManualClock.advanceAsync() lets a timer's promise chain run before the next timer", async () => {
  const clock = new ManualClock(0);
  const order: string[] = [];
  clock.setTimeout(() => void Promise.resolve().then(() => order.push("first settled")), 10);
  clock.setTimeout(() => order.push("second fired"), 20);
  await clock.advanceAsync(20);
  assert.deepEqual(order, ["first settled", "second fired"]);
});

Deno.test("ManualClock.setWallMs() steps the wall clock only, and advance() refuses a negative step", () => {
  const clock = new ManualClock(10_000);
  clock.advance(5);
  clock.setWallMs(2_000);
  assert.equal(clock.nowMs(), 2_000);
  assert.equal(clock.monotonicMs(), 5);
  assert.throws(() => clock.advance(-1), RangeError);
});

Deno.test("abortAfter() aborts with a TimeoutError when the clock reaches the timeout, and clear() cancels it", () => {
  const clock = new ManualClock();
  const timed = abortAfter(clock, 100);
  clock.advance(99);
  assert.equal(timed.signal.aborted, false);
  clock.advance(1);
  assert.equal((timed.signal.reason as DOMException).name, "TimeoutError");
  const cleared = abortAfter(clock, 100);
  cleared.clear();
  clock.advance(1_000);
  assert.equal(cleared.signal.aborted, false);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("SYSTEM_CLOCK reads the process clocks and runs real timers", async () => {
  const before = Date.now();
  assert.ok(Math.abs(SYSTEM_CLOCK.nowMs() - before) < 1_000);
  const { promise, resolve } = Promise.withResolvers<void>();
  SYSTEM_CLOCK.setTimeout(resolve, 0);
  await promise;
  const id = SYSTEM_CLOCK.setInterval(() => {}, 1_000);
  SYSTEM_CLOCK.unrefTimer(id);
  SYSTEM_CLOCK.clearInterval(id);
  assert.ok(SYSTEM_CLOCK.monotonicMs() >= 0);
});
