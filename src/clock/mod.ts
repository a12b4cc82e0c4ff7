/**
 * hopd's one clock: every component that reads time or schedules a callback takes a
 * {@linkcode Clock} in its components (or init) object instead of calling `Date.now()`,
 * `performance.now()` or the global timers. The daemon builds one {@linkcode SYSTEM_CLOCK}
 * and hands it to every component; tests hand them a {@linkcode ManualClock} and move time
 * with `advance(ms)`, which fires the timers that fall due on the way, so no test sleeps to
 * let time pass.
 *
 * Two readings: `nowMs()` is the wall clock (ms since the epoch) for anything stored, sent to
 * another process or compared with a time from outside (ban expiries, reservation expiry,
 * federation reports); `monotonicMs()` has sub-millisecond precision and never steps back,
 * for durations measured inside the process (setup latency histograms, budgets).
 *
 * @example
 * ```ts
 * import { ManualClock } from "./mod.ts";
 * const clock = new ManualClock();
 * let fired = 0;
 * clock.setTimeout(() => fired++, 1_000);
 * clock.advance(999); // fired === 0
 * clock.advance(1); // fired === 1
 * ```
 *
 * @module
 */

/** A timer's handle, for {@linkcode Clock.clearTimeout} or {@linkcode Clock.clearInterval}. */
export type TimerId = number;

/** Time and timers, injected. */
export interface Clock {
  /** Wall-clock time, ms since the epoch. */
  nowMs(): number;
  /** Monotonic time in ms (sub-ms precision), for durations within this process. */
  monotonicMs(): number;
  /** Runs `callback` once after `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): TimerId;
  /** Cancels a pending timeout; ignores an unknown or undefined id. */
  clearTimeout(id: TimerId | undefined): void;
  /** Runs `callback` every `intervalMs` until cleared. */
  setInterval(callback: () => void, intervalMs: number): TimerId;
  /** Cancels an interval; ignores an unknown or undefined id. */
  clearInterval(id: TimerId | undefined): void;
  /**
   * Lets the process exit while the timer `id` is pending (`Deno.unrefTimer`), for a
   * background sampler no one waits on; a clock with no process to hold open ignores it.
   */
  unrefTimer(id: TimerId): void;
}

/** The process's clock and timers: what the daemon passes to every component. */
export const SYSTEM_CLOCK: Clock = Object.freeze({
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout: (callback: () => void, delayMs: number) =>
    setTimeout(callback, delayMs) as unknown as TimerId,
  clearTimeout: (id: TimerId | undefined) => clearTimeout(id),
  setInterval: (callback: () => void, intervalMs: number) =>
    setInterval(callback, intervalMs) as unknown as TimerId,
  clearInterval: (id: TimerId | undefined) => clearInterval(id),
  unrefTimer: (id: TimerId) => Deno.unrefTimer(id),
});

/**
 * `AbortSignal.timeout(ms)` on an injected clock: the signal aborts with a `TimeoutError`
 * once `ms` have passed on `clock`.
 *
 * @param clock The clock to time out on.
 * @param ms The timeout.
 * @returns The signal, and `clear()` to call when the guarded work is done (frees the timer).
 */
export function abortAfter(clock: Clock, ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const id = clock.setTimeout(
    () => controller.abort(new DOMException("The operation timed out.", "TimeoutError")),
    ms,
  );
  return { signal: controller.signal, clear: () => clock.clearTimeout(id) };
}

interface ManualTimer {
  atMs: number;
  readonly callback: () => void;
  /** Set for intervals: the period it is re-armed with. */
  readonly everyMs?: number;
}

/**
 * A clock that moves only when the test moves it. Timers fire in due order (ties in the order
 * they were set) during {@linkcode ManualClock.advance}, with the clock reading their due
 * time; a timer set while firing fires in the same advance if it falls due within it.
 */
export class ManualClock implements Clock {
  #wallMs: number;
  #monoMs = 0;
  #nextId = 1;
  readonly #timers = new Map<TimerId, ManualTimer>();

  /**
   * Creates a clock at `startMs` on the wall clock and 0 on the monotonic one, with no timers.
   *
   * @param startMs The wall-clock reading to start at. @default 1_700_000_000_000
   */
  constructor(startMs = 1_700_000_000_000) {
    this.#wallMs = startMs;
  }

  nowMs(): number {
    return this.#wallMs;
  }

  monotonicMs(): number {
    return this.#monoMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { atMs: this.#monoMs + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(id: TimerId | undefined): void {
    if (id !== undefined) this.#timers.delete(id);
  }

  setInterval(callback: () => void, intervalMs: number): TimerId {
    const id = this.#nextId++;
    const everyMs = Math.max(1, intervalMs);
    this.#timers.set(id, { atMs: this.#monoMs + everyMs, callback, everyMs });
    return id;
  }

  clearInterval(id: TimerId | undefined): void {
    this.clearTimeout(id);
  }

  /** Nothing to do: a ManualClock holds no process open. */
  unrefTimer(_id: TimerId): void {}

  /** How many timeouts and intervals are pending. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves both readings forward by `ms`, firing every timer that falls due on the way.
   *
   * @param ms How far, ≥ 0.
   * @throws {RangeError} If `ms` is negative (use {@linkcode ManualClock.setWallMs} to step
   * the wall clock back).
   */
  advance(ms: number): void {
    const until = this.#checkedUntil(ms);
    for (let due = this.#nextDue(until); due !== undefined; due = this.#nextDue(until)) {
      this.#fire(due);
    }
    this.#moveTo(until);
  }

  /**
   * Like {@linkcode ManualClock.advance}, awaiting `settle()` after each timer fires, so that
   * work a timer starts (promises, stream writes) runs before the next timer falls due.
   *
   * @param ms How far, ≥ 0.
   * @param settle What to await after each timer. @default one turn of the event loop
   */
  async advanceAsync(ms: number, settle: () => Promise<unknown> = nextTurn): Promise<void> {
    const until = this.#checkedUntil(ms);
    for (let due = this.#nextDue(until); due !== undefined; due = this.#nextDue(until)) {
      this.#fire(due);
      await settle();
    }
    this.#moveTo(until);
    await settle();
  }

  /**
   * Sets the wall clock (a step, as NTP may make); the monotonic reading and timers stay.
   *
   * @param wallMs The new wall-clock reading, ms since the epoch.
   */
  setWallMs(wallMs: number): void {
    this.#wallMs = wallMs;
  }

  #checkedUntil(ms: number): number {
    if (!(ms >= 0)) {
      throw new RangeError(
        `Cannot advance a ManualClock by a negative time: current value is ${ms}`,
      );
    }
    return this.#monoMs + ms;
  }

  #nextDue(untilMs: number): [TimerId, ManualTimer] | undefined {
    let due: [TimerId, ManualTimer] | undefined;
    for (const entry of this.#timers) {
      if (entry[1].atMs <= untilMs && (due === undefined || entry[1].atMs < due[1].atMs)) {
        due = entry;
      }
    }
    return due;
  }

  #fire([id, timer]: [TimerId, ManualTimer]): void {
    this.#moveTo(timer.atMs);
    if (timer.everyMs === undefined) this.#timers.delete(id);
    else timer.atMs += timer.everyMs;
    timer.callback();
  }

  #moveTo(monoMs: number): void {
    if (monoMs <= this.#monoMs) return;
    this.#wallMs += monoMs - this.#monoMs;
    this.#monoMs = monoMs;
  }
}

/** One turn of the event loop: lets pending promise chains and I/O callbacks run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
