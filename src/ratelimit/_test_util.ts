/**
 * Test helpers: a clock the test moves by hand.
 *
 * @module
 */

import type { Clock } from "./mod.ts";

/** A clock that only moves when told. */
export interface FakeClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

/**
 * Creates a fake clock.
 *
 * @param startMs Initial time.
 */
export function fakeClock(startMs = 1_700_000_000_000): FakeClock {
  let now = startMs;
  return {
    nowMs: () => now,
    advance: (ms) => void (now += ms),
    set: (ms) => void (now = ms),
  };
}
