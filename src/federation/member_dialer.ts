/**
 * Keeps a connection to every member we know an address of (the bootstrap list, then the
 * addresses members announce in their reports). A member we are not connected to is dialed
 * at once; each failure doubles the delay before the next try, from
 * {@linkcode MEMBER_DIAL_BACKOFF_INITIAL_MS} up to {@linkcode MEMBER_DIAL_BACKOFF_MAX_MS},
 * with "equal jitter" (a random delay between half and all of it) so members that lost
 * each other at the same moment do not redial in lockstep. A success resets the delay.
 *
 * Sockets and timers come in through {@linkcode MemberDialerComponents}, so tests drive
 * failures and time directly.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import { MEMBER_DIAL_BACKOFF_INITIAL_MS, MEMBER_DIAL_BACKOFF_MAX_MS } from "./constants.ts";

/**
 * The delay before redial attempt `failures` (1 = after the first failure), with equal jitter.
 *
 * @example
 * ```ts
 * import { backoffDelayMs } from "./member_dialer.ts";
 * backoffDelayMs(1, () => 0); // 250: half of 500
 * backoffDelayMs(1, () => 1); // 500
 * backoffDelayMs(20, () => 1); // 30000: the maximum
 * ```
 *
 * @param failures Consecutive failed dials so far (at least 1).
 * @param random A uniform random number in [0, 1).
 * @param range The first and the largest delay (a member dial's unless given).
 * @returns The delay in ms.
 */
export function backoffDelayMs(
  failures: number,
  random: () => number,
  range: BackoffRange = MEMBER_DIAL_BACKOFF,
): number {
  const { initialMs, maxMs } = range;
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The first and the largest delay of an exponential backoff, in ms. */
export interface BackoffRange {
  readonly initialMs: number;
  readonly maxMs: number;
}

/** A member dial's backoff: 500 ms doubling to 30 s. */
const MEMBER_DIAL_BACKOFF: BackoffRange = {
  initialMs: MEMBER_DIAL_BACKOFF_INITIAL_MS,
  maxMs: MEMBER_DIAL_BACKOFF_MAX_MS,
};

/** What the dialer drives. */
export interface MemberDialerComponents {
  /** Dials a member at one of its addresses; rejects when it cannot. */
  dial(peerId: string, addrs: readonly string[]): Promise<void>;
  /** Whether a connection to the member is open. */
  isConnected(peerId: string): boolean;
  /** @default Math.random */
  readonly random?: () => number;
  /** The backoff timers. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
  /** Told about each failed dial (for the log and metrics). */
  readonly onDialError?: (peerId: string, error: unknown, nextDelayMs: number) => void;
}

interface Target {
  addrs: readonly string[];
  failures: number;
  timer?: TimerId;
  dialing: boolean;
}

/** Dials members with backoff and jitter until connected. */
export class MemberDialer {
  readonly #c: MemberDialerComponents;
  readonly #targets = new Map<string, Target>();
  readonly #random: () => number;
  readonly #clock: Clock;
  #running = false;

  /** @param components Dial, connection state, randomness and timers. */
  constructor(components: MemberDialerComponents) {
    this.#c = components;
    this.#random = components.random ?? Math.random;
    this.#clock = components.clock ?? SYSTEM_CLOCK;
  }

  /** Starts dialing every known member. */
  start(): void {
    this.#running = true;
    for (const peerId of this.#targets.keys()) this.ensure(peerId);
  }

  /** Stops: cancels pending redials (dials in flight finish on their own). */
  stop(): void {
    this.#running = false;
    for (const target of this.#targets.values()) {
      this.#clock.clearTimeout(target.timer);
      target.timer = undefined;
    }
  }

  /**
   * Sets (or replaces) the addresses of a member, and dials it if needed.
   *
   * @param peerId The member.
   * @param addrs Its multiaddrs as text (with /p2p/<peer id>); empty leaves the known ones.
   */
  setAddrs(peerId: string, addrs: readonly string[]): void {
    const target = this.#targets.get(peerId);
    if (target === undefined) {
      if (addrs.length === 0) return;
      this.#targets.set(peerId, { addrs, failures: 0, dialing: false });
    } else if (addrs.length > 0) {
      target.addrs = addrs;
    }
    this.ensure(peerId);
  }

  /** The known addresses of a member. */
  addrsOf(peerId: string): readonly string[] {
    return this.#targets.get(peerId)?.addrs ?? [];
  }

  /**
   * Dials the member now unless it is connected, being dialed or waiting out a backoff.
   * Call on disconnect.
   */
  ensure(peerId: string): void {
    const target = this.#targets.get(peerId);
    if (!this.#running || target === undefined) return;
    if (target.dialing || target.timer !== undefined) return;
    if (this.#c.isConnected(peerId)) {
      target.failures = 0;
      return;
    }
    void this.#dial(peerId, target);
  }

  /** Consecutive failed dials of a member (0 once connected). */
  failuresOf(peerId: string): number {
    return this.#targets.get(peerId)?.failures ?? 0;
  }

  async #dial(peerId: string, target: Target): Promise<void> {
    target.dialing = true;
    try {
      await this.#c.dial(peerId, target.addrs);
      target.failures = 0;
    } catch (error) {
      target.failures++;
      const delayMs = backoffDelayMs(target.failures, this.#random);
      this.#c.onDialError?.(peerId, error, delayMs);
      if (this.#running) {
        target.timer = this.#clock.setTimeout(() => {
          target.timer = undefined;
          this.ensure(peerId);
        }, delayMs);
      }
    } finally {
      target.dialing = false;
    }
  }
}
