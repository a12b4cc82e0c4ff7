/**
 * The safety rails the host enforces around every action, whatever the policy says:
 * hysteresis (asked for in N of the last M ticks), a cooldown per action, the restart budget
 * and the cap on policy bans. Pure: time comes in as numbers.
 *
 * @module
 */

import type { Action } from "./types.ts";

/** Why an action that passed the policy did not run. */
export type SuppressedBy =
  | "hysteresis"
  | "cooldown"
  | "budget"
  | "ban_cap"
  | "ban_too_wide"
  | "idempotent"
  | "undeclared_hook"
  | "no_federation"
  | "error";

/**
 * The identity of an action for hysteresis and cooldown: its type plus its target, so a
 * ban of peer A does not hold back a ban of peer B.
 */
export function actionKey(action: Action): string {
  switch (action.type) {
    case "ban":
      return `ban:${action.peer ?? action.cidr}`;
    case "disconnect":
      return `disconnect:${action.peer}`;
    case "setLimit":
      return `setLimit:${action.key}`;
    case "runHook":
      return `runHook:${action.name}`;
    case "alert":
      return `alert:${action.severity}:${action.summary}`;
    default:
      return action.type;
  }
}

/** N-of-M memory of one policy: which keys were asked for in each of the last M ticks. */
export class Hysteresis {
  readonly #need: number;
  readonly #window: number;
  readonly #ticks: Set<string>[] = [];

  constructor(need: number, window: number) {
    this.#need = need;
    this.#window = window;
  }

  /**
   * Records one tick's asks and says which keys are sustained (asked for in at least N of
   * the last M ticks, this one included).
   */
  record(keys: Iterable<string>): (key: string) => boolean {
    this.#ticks.push(new Set(keys));
    if (this.#ticks.length > this.#window) this.#ticks.shift();
    return (key) => {
      let seen = 0;
      for (const tick of this.#ticks) if (tick.has(key)) seen++;
      return seen >= this.#need;
    };
  }
}

/** Last run time per action key, to hold an action back for the cooldown. */
export class Cooldowns {
  readonly #lastMs = new Map<string, number>();
  readonly #cooldownMs: number;

  constructor(cooldownMs: number) {
    this.#cooldownMs = cooldownMs;
  }

  ready(key: string, nowMs: number): boolean {
    const last = this.#lastMs.get(key);
    return last === undefined || nowMs - last >= this.#cooldownMs;
  }

  ran(key: string, nowMs: number): void {
    this.#lastMs.set(key, nowMs);
  }
}

/** At most `budget` restarts per window; the times survive restarts (persisted by the caller). */
export class RestartBudget {
  readonly #budget: number;
  readonly #windowMs: number;
  #timesMs: number[];

  constructor(budget: number, windowMs: number, timesMs: readonly number[] = []) {
    this.#budget = budget;
    this.#windowMs = windowMs;
    this.#timesMs = [...timesMs];
  }

  /** Restart times inside the window, for persistence. */
  times(nowMs: number): number[] {
    this.#timesMs = this.#timesMs.filter((t) => nowMs - t < this.#windowMs);
    return [...this.#timesMs];
  }

  exhausted(nowMs: number): boolean {
    return this.times(nowMs).length >= this.#budget;
  }

  spend(nowMs: number): void {
    this.#timesMs.push(nowMs);
  }

  /** An operator's reset (admin API): the window starts empty. */
  reset(): void {
    this.#timesMs = [];
  }
}

/**
 * Addresses policies may hold banned at once: a fraction of connected peers, at least one if
 * above 0 (a peer ban counts one, a CIDR ban every address it covers).
 */
export function banCap(fraction: number, connectedPeers: number): number {
  if (fraction <= 0) return 0;
  return Math.max(1, Math.floor(fraction * connectedPeers));
}
