/**
 * Each policy's verdict (as /ready sees it: after hysteresis) is logged when it changes, once,
 * as it happens: a policy that takes the node out of rotation says so in the log, and so does
 * its return. The change also goes into the decision record (`verdictChange`), which is what
 * the status page's "Recent actions" lists.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type PolicyMode, type Verdict, VERDICTS } from "./types.ts";

/** A policy's verdict before and after one evaluation. */
export interface VerdictChange {
  readonly from: Verdict;
  readonly to: Verdict;
}

/** The last verdict of each policy, to tell when one changes. */
export class VerdictTracker {
  readonly #last = new Map<string, Verdict>();

  /**
   * Notes a policy's verdict of this tick.
   *
   * @param policy The policy's name.
   * @param verdict Its verdict after hysteresis.
   * @returns The change, or undefined when it is the verdict of its last tick (a policy
   *   seen for the first time starts from healthy: the node's state before it judged).
   */
  note(policy: string, verdict: Verdict): VerdictChange | undefined {
    const from = this.#last.get(policy) ?? "healthy";
    this.#last.set(policy, verdict);
    return from === verdict ? undefined : { from, to: verdict };
  }

  /** Forgets a policy that was unloaded (its next verdict starts from healthy again). */
  forget(policy: string): void {
    this.#last.delete(policy);
  }
}

/** What a change means for /ready, in the policy's mode. */
function effectOf(change: VerdictChange, mode: PolicyMode): string {
  if (mode !== "enforce") return `${mode} mode: /ready does not count it`;
  if (change.to === "unhealthy") return "/ready answers 503: the node is out of rotation";
  if (change.from === "unhealthy") return "it no longer keeps /ready at 503";
  return "/ready does not change for a degraded verdict";
}

/**
 * Logs one verdict change: WARN when it got worse, INFO when it got better.
 *
 * @param log The policy engine's logger.
 * @param event The policy, its mode, the change and the reasons it gave.
 */
export function logVerdictChange(
  log: Logger,
  event: {
    readonly policy: string;
    readonly mode: PolicyMode;
    readonly change: VerdictChange;
    readonly reasons: readonly string[];
  },
): void {
  const { policy, mode, change, reasons } = event;
  const worse = VERDICTS.indexOf(change.to) > VERDICTS.indexOf(change.from);
  log[worse ? "warn" : "info"](
    "Policy {policy} verdict {from} → {to} ({effect}): {reasons}",
    { policy, mode, from: change.from, to: change.to, effect: effectOf(change, mode), reasons },
  );
}
