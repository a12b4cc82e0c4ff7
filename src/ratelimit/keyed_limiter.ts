/**
 * Token buckets per key (an IP, a subnet key, a peer ID) in a table with a hard bound.
 *
 * Layout: a `Map` from key to slot index, and parallel typed arrays for the bucket state
 * (tokens, last refill time, a recently-used bit), so a check is one map lookup and a few
 * array reads with no allocation. The arrays start small and double up to the bound.
 *
 * Bounding: a bucket that has refilled to its burst carries no information (a fresh bucket
 * would behave the same), so it can be dropped. Every new key inspects a few slots ahead of
 * a sweep cursor and frees idle ones, which keeps the table near the set of recently active
 * keys without a timer; `sweep(nowMs)` does a full pass. When the table is at `maxKeys`, a
 * CLOCK hand (second chance: approximate LRU) picks the victim, preferring idle buckets.
 * A million distinct keys therefore never grow the table past `maxKeys`.
 *
 * @module
 */

import { effectiveBurst } from "./_rate.ts";
import { INITIAL_TABLE_SLOTS, SWEEP_STEP_SLOTS } from "./constants.ts";

/** A table key: strings (IPs, peer IDs) or small numbers (IPv4 subnet indexes). */
export type LimiterKey = string | number;

/** What a keyed table is built from. */
export interface KeyedLimiterInit {
  /** Tokens per second per key; 0 = unlimited (nothing is tracked). */
  readonly ratePerSecond: number;
  /** Bucket size per key; 0 = one second's worth (at least 1). @default 0 */
  readonly burst?: number;
  /** Most keys tracked at once (`limits.max_tracked_keys`). */
  readonly maxKeys: number;
}

/** Token buckets per key with a hard bound on the keys tracked. */
export class KeyedLimiter {
  #slots = new Map<LimiterKey, number>();
  #keys: (LimiterKey | undefined)[] = [];
  /**
   * Per slot, side by side (one cache line per check): tokens at 2·slot, last refill at 2·slot+1.
   */
  #state: Float64Array;
  #used: Uint8Array;
  #free: number[] = [];
  /** Slots [0, highWater) have been handed out at least once. */
  #highWater = 0;
  #maxKeys: number;
  #ratePerSecond = 0;
  #ratePerMs = 0;
  #burst = 0;
  #hand = 0;
  #sweepCursor = 0;
  #evictions = 0;

  /**
   * Creates an empty table of buckets, one per key as keys appear.
   *
   * @param init Rate, burst and bound.
   * @throws {RangeError} A bad rate, burst or bound.
   * @example
   * ```ts
   * import { ManualClock } from "../clock/mod.ts";
   * import { KeyedLimiter } from "./keyed_limiter.ts";
   * const clock = new ManualClock();
   * const perIp = new KeyedLimiter({ ratePerSecond: 10, burst: 20, maxKeys: 10_000 });
   * perIp.take("192.0.2.1", clock.nowMs()); // true
   * ```
   */
  constructor(init: KeyedLimiterInit) {
    this.#maxKeys = checkMaxKeys(init.maxKeys);
    const slots = Math.min(INITIAL_TABLE_SLOTS, this.#maxKeys);
    this.#state = new Float64Array(2 * slots);
    this.#used = new Uint8Array(slots);
    this.setRate(init.ratePerSecond, init.burst ?? 0);
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#slots.size;
  }

  /** The bound on keys tracked. */
  get maxKeys(): number {
    return this.#maxKeys;
  }

  /** Keys evicted because the table was full (idle drops not counted). */
  get evictions(): number {
    return this.#evictions;
  }

  /** Tokens per second per key (0 = unlimited). */
  get ratePerSecond(): number {
    return this.#ratePerSecond;
  }

  /** Effective burst per key. */
  get burst(): number {
    return this.#burst;
  }

  /**
   * Changes rate and burst for every key, keeping each bucket's tokens (clamped to the new
   * burst on next use). Setting rate 0 forgets every key.
   *
   * @param ratePerSecond Tokens per second; 0 = unlimited.
   * @param burst Bucket size; 0 = one second's worth.
   * @throws {RangeError} A negative or non-finite value.
   */
  setRate(ratePerSecond: number, burst = 0): void {
    this.#burst = effectiveBurst("keyed", ratePerSecond, burst);
    this.#ratePerSecond = ratePerSecond;
    this.#ratePerMs = ratePerSecond / 1000;
    if (ratePerSecond === 0) this.clear();
  }

  /**
   * Changes the bound, evicting keys at once if the table holds more.
   *
   * @param maxKeys New bound (a positive integer).
   * @throws {RangeError} When not a positive integer.
   */
  setMaxKeys(maxKeys: number): void {
    this.#maxKeys = checkMaxKeys(maxKeys);
    while (this.#slots.size > this.#maxKeys) this.#freeSlot(this.#victim(-Infinity), true);
  }

  /**
   * Takes `n` tokens from the key's bucket if it holds them. An unknown key starts full.
   *
   * @param key The key.
   * @param nowMs Current time (a clock going back refills nothing).
   * @param n Tokens wanted.
   * @returns Whether they were taken.
   */
  take(key: LimiterKey, nowMs: number, n = 1): boolean {
    const ratePerMs = this.#ratePerMs;
    if (ratePerMs === 0) return true;
    let slot = this.#slots.get(key);
    let tokens: number;
    if (slot === undefined) {
      // A new key starts without the used bit: keys seen once (a spray of addresses) are
      // the first the CLOCK hand evicts, keys seen again get a second chance.
      slot = this.#insert(key, nowMs);
      tokens = this.#burst;
    } else {
      const state = this.#state;
      const elapsedMs = nowMs - state[2 * slot + 1]!;
      tokens = state[2 * slot]!;
      if (elapsedMs > 0) tokens += elapsedMs * ratePerMs;
      if (tokens > this.#burst) tokens = this.#burst;
      this.#used[slot] = 1;
    }
    this.#state[2 * slot + 1] = nowMs;
    if (tokens >= n) {
      this.#state[2 * slot] = tokens - n;
      return true;
    }
    this.#state[2 * slot] = tokens;
    return false;
  }

  /**
   * Gives back tokens taken for an action that did not happen (never above burst).
   *
   * @param key The key.
   * @param n Tokens to return.
   */
  refund(key: LimiterKey, n = 1): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    this.#state[2 * slot] = Math.min(this.#burst, this.#state[2 * slot]! + n);
  }

  /**
   * Time until the key's bucket holds `n` tokens.
   *
   * @param key The key.
   * @param nowMs Current time.
   * @param n Tokens wanted.
   * @returns Milliseconds (rounded up); 0 when available; Infinity when `n` exceeds burst.
   */
  retryAfterMs(key: LimiterKey, nowMs: number, n = 1): number {
    if (this.#ratePerMs === 0) return 0;
    if (n > this.#burst) return Infinity;
    const tokens = this.tokens(key, nowMs);
    return tokens >= n ? 0 : Math.ceil((n - tokens) / this.#ratePerMs);
  }

  /**
   * Tokens the key's bucket holds now (burst for an untracked key). Does not track the key.
   *
   * @param key The key.
   * @param nowMs Current time.
   */
  tokens(key: LimiterKey, nowMs: number): number {
    if (this.#ratePerMs === 0) return Infinity;
    const slot = this.#slots.get(key);
    if (slot === undefined) return this.#burst;
    const elapsedMs = Math.max(0, nowMs - this.#state[2 * slot + 1]!);
    return Math.min(this.#burst, this.#state[2 * slot]! + elapsedMs * this.#ratePerMs);
  }

  /** Whether the key is tracked. */
  has(key: LimiterKey): boolean {
    return this.#slots.has(key);
  }

  /** Forgets a key (its next check starts full). */
  delete(key: LimiterKey): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#freeSlot(slot, false);
    return true;
  }

  /** Forgets every key and releases the arrays. */
  clear(): void {
    this.#slots.clear();
    this.#keys = [];
    this.#free = [];
    this.#highWater = 0;
    this.#hand = 0;
    this.#sweepCursor = 0;
    const slots = Math.min(INITIAL_TABLE_SLOTS, this.#maxKeys);
    this.#state = new Float64Array(2 * slots);
    this.#used = new Uint8Array(slots);
  }

  /**
   * Drops every idle bucket (refilled to burst). Call from a timer if keys are rarely added;
   * new keys already sweep a few slots each.
   *
   * @param nowMs Current time.
   * @returns How many keys were dropped.
   */
  sweep(nowMs: number): number {
    let dropped = 0;
    for (let slot = 0; slot < this.#highWater; slot++) {
      if (this.#keys[slot] !== undefined && this.#idle(slot, nowMs)) {
        this.#freeSlot(slot, false);
        dropped++;
      }
    }
    return dropped;
  }

  /** The tracked keys (for status pages and tests). */
  keys(): IterableIterator<LimiterKey> {
    return this.#slots.keys();
  }

  #idle(slot: number, nowMs: number): boolean {
    const elapsedMs = nowMs - this.#state[2 * slot + 1]!;
    return this.#state[2 * slot]! + (elapsedMs > 0 ? elapsedMs * this.#ratePerMs : 0) >=
      this.#burst;
  }

  #insert(key: LimiterKey, nowMs: number): number {
    this.#sweepStep(nowMs);
    let slot: number;
    if (this.#slots.size < this.#maxKeys) {
      if (this.#free.length > 0) {
        slot = this.#free.pop()!;
      } else {
        if (2 * this.#highWater === this.#state.length) this.#grow();
        slot = this.#highWater++;
      }
    } else {
      slot = this.#victim(nowMs);
      this.#freeSlot(slot, true);
      this.#free.pop();
    }
    this.#slots.set(key, slot);
    this.#keys[slot] = key;
    this.#used[slot] = 0;
    return slot;
  }

  /** Frees idle buckets just ahead of the sweep cursor (amortised cleaning). */
  #sweepStep(nowMs: number): void {
    const end = this.#highWater;
    if (end === 0) return;
    for (let i = 0; i < SWEEP_STEP_SLOTS; i++) {
      const slot = this.#sweepCursor;
      this.#sweepCursor = slot + 1 >= end ? 0 : slot + 1;
      if (this.#keys[slot] !== undefined && this.#idle(slot, nowMs)) this.#freeSlot(slot, false);
    }
  }

  /** CLOCK with second chance: an idle or not recently used slot; at most two turns. */
  #victim(nowMs: number): number {
    const end = this.#highWater;
    for (let steps = 0; steps < 2 * end; steps++) {
      const slot = this.#hand;
      this.#hand = slot + 1 >= end ? 0 : slot + 1;
      if (this.#keys[slot] === undefined) continue;
      if (this.#used[slot] === 0 || this.#idle(slot, nowMs)) return slot;
      this.#used[slot] = 0;
    }
    // Unreachable while the table holds a key: the first turn clears every bit.
    return this.#hand;
  }

  #freeSlot(slot: number, evicted: boolean): void {
    const key = this.#keys[slot];
    if (key === undefined) return;
    this.#slots.delete(key);
    this.#keys[slot] = undefined;
    this.#free.push(slot);
    if (evicted) this.#evictions++;
  }

  #grow(): void {
    const slots = Math.min(this.#state.length, Math.max(this.#maxKeys, 1));
    const grow = <T extends Float64Array | Uint8Array>(old: T, next: T): T => {
      next.set(old);
      return next;
    };
    this.#state = grow(this.#state, new Float64Array(2 * slots));
    this.#used = grow(this.#used, new Uint8Array(slots));
  }
}

function checkMaxKeys(maxKeys: number): number {
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(`'maxKeys' must be a positive integer: current value is ${maxKeys}`);
  }
  return maxKeys;
}
