/**
 * A single token bucket: `ratePerSecond` tokens flow in, up to `burst`. `take` is the
 * admission form (refuse when short); `consume` is the debt form for bandwidth (always
 * charge, answer how long to pause). Plain float math on four fields, no allocation.
 *
 * @module
 */

import { effectiveBurst } from "./_rate.ts";

/** A token bucket; rate 0 means unlimited. The bucket starts full. */
export class TokenBucket {
  #ratePerSecond = 0;
  #ratePerMs = 0;
  #burst = 0;
  #tokens = 0;
  #lastMs: number;

  /**
   * Creates a full bucket.
   *
   * @param ratePerSecond Tokens per second; 0 = unlimited.
   * @param burst Bucket size; 0 = one second's worth of rate (at least 1).
   * @param nowMs Current time.
   * @throws {RangeError} A negative or non-finite rate or burst.
   * @example
   * ```ts
   * import { TokenBucket } from "./token_bucket.ts";
   * const bucket = new TokenBucket(1, 2, 0);
   * bucket.take(0); // true
   * bucket.take(0); // true
   * bucket.take(0); // false: empty until 1 s later
   * ```
   */
  constructor(ratePerSecond: number, burst = 0, nowMs = 0) {
    this.#lastMs = nowMs;
    this.setRate(ratePerSecond, burst);
    this.#tokens = this.#burst;
  }

  /** Tokens per second (0 = unlimited). */
  get ratePerSecond(): number {
    return this.#ratePerSecond;
  }

  /** Effective bucket size. */
  get burst(): number {
    return this.#burst;
  }

  /**
   * Changes the rate, keeping the tokens held (clamped to the new burst on next use).
   *
   * @param ratePerSecond Tokens per second; 0 = unlimited.
   * @param burst Bucket size; 0 = one second's worth (at least 1).
   * @throws {RangeError} A negative or non-finite value.
   */
  setRate(ratePerSecond: number, burst = 0): void {
    const effective = effectiveBurst("bucket", ratePerSecond, burst);
    if (this.#ratePerSecond === 0 && ratePerSecond > 0) this.#tokens = effective;
    this.#ratePerSecond = ratePerSecond;
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = effective;
  }

  /**
   * Takes `n` tokens if the bucket holds them.
   *
   * @param nowMs Current time (a clock going back refills nothing).
   * @param n Tokens wanted.
   * @returns Whether they were taken.
   */
  take(nowMs: number, n = 1): boolean {
    if (this.#ratePerMs === 0) return true;
    const tokens = this.#refill(nowMs);
    if (tokens >= n) {
      this.#tokens = tokens - n;
      return true;
    }
    this.#tokens = tokens;
    return false;
  }

  /**
   * Charges `n` tokens even into debt, and answers how long the caller should wait before
   * going on so that it stays at the rate.
   *
   * @param nowMs Current time.
   * @param n Tokens used (for bandwidth: bytes).
   * @returns Milliseconds to wait (whole, rounded up); 0 = go on.
   */
  consume(nowMs: number, n: number): number {
    if (this.#ratePerMs === 0) return 0;
    const tokens = this.#refill(nowMs) - n;
    this.#tokens = tokens;
    return tokens >= 0 ? 0 : Math.ceil(-tokens / this.#ratePerMs);
  }

  /**
   * Gives back tokens taken for an action that did not happen (never above burst).
   *
   * @param n Tokens to return.
   */
  refund(n = 1): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + n);
  }

  /**
   * Time until `n` tokens are available.
   *
   * @param nowMs Current time.
   * @param n Tokens wanted.
   * @returns Milliseconds (whole, rounded up); Infinity when `n` exceeds the burst.
   */
  retryAfterMs(nowMs: number, n = 1): number {
    if (this.#ratePerMs === 0) return 0;
    if (n > this.#burst) return Infinity;
    const tokens = this.#refill(nowMs);
    this.#tokens = tokens;
    return tokens >= n ? 0 : Math.ceil((n - tokens) / this.#ratePerMs);
  }

  /**
   * Tokens held now (negative when in debt).
   *
   * @param nowMs Current time.
   */
  tokens(nowMs: number): number {
    if (this.#ratePerMs === 0) return Infinity;
    this.#tokens = this.#refill(nowMs);
    return this.#tokens;
  }

  #refill(nowMs: number): number {
    const elapsedMs = nowMs - this.#lastMs;
    this.#lastMs = nowMs;
    let tokens = this.#tokens;
    if (elapsedMs > 0) tokens += elapsedMs * this.#ratePerMs;
    return tokens > this.#burst ? this.#burst : tokens;
  }
}
