/**
 * The debug lines of the policy engine's ticks: one per evaluation (the policy, its revision,
 * its verdict, how many times it has evaluated and what became of each action it asked for),
 * and one when a tick is done (its decisions are in the decision log and /v1/decisions by
 * then). At `log.level = "debug"` they tell an operator, tick by tick, what each policy
 * judged and did without reading the decision log; at the default level they cost nothing.
 * What is worth seeing at info is logged where it happens: a verdict change
 * (`verdict_changes.ts`), an action run, warned about or run in dryrun
 * (`action_executor.ts`).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { DecidedAction, DecisionRecord } from "./decision_log.ts";
import type { Verdict } from "./types.ts";

/**
 * One action's outcome in a few words: `"drain executed"`, `"restart suppressed (budget)"`.
 *
 * @param action The action as the executor decided it.
 * @returns The words.
 */
export function actionOutcome(action: DecidedAction): string {
  return action.outcome === "suppressed"
    ? `${action.type} suppressed (${action.suppressedBy})`
    : `${action.type} ${action.outcome}`;
}

/**
 * Logs one successful evaluation at debug: `Policy p evaluation 12 on tick 12: degraded,
 * actions ["throttle executed"]`. The properties carry `policy`, `revision`, `mode`, `tick`,
 * `evaluations` (since the revision loaded), `verdict`, `effectiveVerdict` (after
 * hysteresis), `reasons`, `durationMs`, `actions` (as in the message) and the action types
 * by outcome: `executed`, `warned`, `dryrun`, and `suppressed` as `{type, by}`.
 *
 * @param log The policy engine's logger.
 * @param record The evaluation's decision record.
 * @param evaluations The policy's evaluations since its revision loaded, this one included.
 */
export function logEvaluation(log: Logger, record: DecisionRecord, evaluations: number): void {
  const typesOf = (outcome: DecidedAction["outcome"]) =>
    record.actions.filter((a) => a.outcome === outcome).map((a) => a.type);
  // Lazy: below debug the properties are never built (once per policy and tick).
  log.debug(
    "Policy {policy} evaluation {evaluations} on tick {tick}: {verdict}, actions {actions}",
    () => ({
      policy: record.policy,
      revision: record.revision,
      mode: record.mode,
      tick: record.tick,
      evaluations,
      verdict: record.verdict,
      effectiveVerdict: record.effectiveVerdict,
      reasons: record.reasons,
      durationMs: record.durationMs,
      actions: record.actions.map(actionOutcome),
      executed: typesOf("executed"),
      warned: typesOf("warned"),
      dryrun: typesOf("dryrun"),
      suppressed: record.actions.filter((a) => a.outcome === "suppressed")
        .map((a) => ({ type: a.type, by: a.suppressedBy })),
    }),
  );
}

/**
 * Logs the end of a tick at debug, once its decisions are written: `Policy tick 12 done: 3
 * policies in 4 ms, /ready verdict healthy`.
 *
 * @param log The policy engine's logger.
 * @param tick What the tick did: its number, how many policies it evaluated, how long it
 *   took (ms) and the node's health after it (enforce-mode policies, as /ready sees it).
 */
export function logTickDone(
  log: Logger,
  tick: {
    readonly tick: number;
    readonly policies: number;
    readonly durationMs: number;
    readonly health: Verdict;
  },
): void {
  log.debug(
    "Policy tick {tick} done: {policies} policies in {durationMs} ms, /ready verdict {health}",
    () => ({ ...tick, durationMs: Math.round(tick.durationMs) }),
  );
}
