/**
 * The policy engine: operators' health and remediation policies (policies/*.js) and event
 * hooks (plugins/*.js), each an ES module in its own QuickJS sandbox (own wasm instance,
 * memory and stack limits, a deadline interrupt), on the main thread where V8 terminates a call
 * a native built-in holds past the deadline (sandbox_host.ts), or, with
 * `policy.sandbox_thread = "worker"`, inside a Worker the engine kills and restarts.
 *
 * Flow of one tick (every `policy.tick`): the daemon builds a {@linkcode Snapshot}; each
 * active policy's `evaluate(snapshot, ctx)` returns a verdict, reasons and actions; the
 * host's rails (hysteresis N of M, cooldown per action, restart budget, ban cap,
 * idempotence) and the policy's mode (enforce, warn, dryrun) decide what runs through the
 * daemon's {@linkcode Actuator}; verdicts feed /ready and `hopd_health_status`; every
 * evaluation is a record in the decision log.
 *
 * Reload: the directories are watched; a saved file is compiled in a fresh sandbox, smoke-run
 * on an idle snapshot, tested against its `<name>_test.js` fixtures and swapped in only then.
 * Any failure keeps the last good revision and shows in /v1/policies, the metrics and the log.
 *
 * @example
 * One policy, prepared and evaluated as the engine does it each tick (the engine adds the
 * rails, the modes, the decision log and the actions; `policyEngine(config.policy)` builds
 * it from the daemon's snapshot and actuator):
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { SYSTEM_CLOCK as clock } from "../clock/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import {
 *   evaluatePolicy,
 *   exampleSnapshot,
 *   prepareModule,
 *   SandboxWorker,
 *   sandboxLimits,
 * } from "./mod.ts";
 * const config = defaultConfig().policy;
 * const limits = sandboxLimits(config);
 * const worker = new SandboxWorker({ graceMs: config.killGraceMs });
 * const source = `export function evaluate(snapshot) {
 *   return snapshot.relay.circuits > 1000
 *     ? { verdict: "degraded", reasons: ["busy"], actions: [{ type: "drain" }] }
 *     : { verdict: "healthy" };
 * }`;
 * const prepared = await prepareModule(worker, {
 *   kind: "policy", name: "busy", fileName: "busy.js", source, sandbox: "busy@1", limits, clock,
 * });
 * assert.equal(prepared.ok, true);
 * const snapshot = exampleSnapshot();
 * const evaluated = await evaluatePolicy(worker, {
 *   sandbox: "busy@1", limits, nowMs: snapshot.now, snapshotJson: JSON.stringify(snapshot),
 *   stateJson: "{}", seed: 1,
 * });
 * assert.ok(evaluated.ok);
 * assert.deepEqual(evaluated.result, { verdict: "healthy", reasons: [], actions: [] });
 * worker.close();
 * ```
 *
 * @module
 */

import type { ResolvedPolicyConfig } from "../config/mod.ts";
import { PolicyEngine, type PolicyEngineComponents } from "./engine.ts";

export { PolicyEngine } from "./engine.ts";
export type { Health, PolicyEngineComponents, PolicyView } from "./engine.ts";
export type { Actuator } from "./action_executor.ts";
export type {
  ActionOutcome,
  DecidedAction,
  DecisionRecord,
  RecentDecisions,
  SnapshotRecord,
} from "./decision_log.ts";
export type { SuppressedBy } from "./rails.ts";
export { DECISION_LOG_FILE, parseDecisionLog } from "./decision_log.ts";
export type { PluginAdmission, PluginHost } from "./plugin_host.ts";
export { exampleSnapshot, mergeSnapshot } from "./example_snapshot.ts";
export { snapshotLimits } from "./snapshot_limits.ts";
export { evaluatePolicy, PLUGIN_HOOKS, prepareModule, sandboxLimits } from "./prepare.ts";
export type {
  CaseResult,
  Evaluated,
  EvaluateInput,
  ModuleKind,
  Prepared,
  PrepareInput,
} from "./prepare.ts";
export { SandboxWorker } from "./sandbox_worker.ts";
export { SandboxHost, sandboxRunner } from "./sandbox_host.ts";
export type { SandboxHostInit, SandboxRunner } from "./sandbox_host.ts";
export type { LoadOutcome, ModuleLoad, SandboxCall, SandboxWorkerInit } from "./sandbox_worker.ts";
export type { CallOutcome, SandboxErrorKind, SandboxFailure, SandboxLimits } from "./sandbox.ts";
export { moduleNameOf, readOptional } from "./module_table.ts";
export type { ModuleEntry } from "./module_table.ts";
export { mayRun, unrunnableHooks } from "./hook_runner.ts";
export { checkModeNames, describeModeTypos, describePendingModeNames } from "./mode_names.ts";
export type { ModeNamesCheck } from "./mode_names.ts";
export { ACTION_TYPES, snapshotProblem, VERDICTS } from "./types.ts";
export type {
  Action,
  LatencyQuantiles,
  PolicyMode,
  PolicyResult,
  Snapshot,
  SnapshotLimits,
  Verdict,
} from "./types.ts";

/**
 * Builds the policy engine.
 *
 * @param config `[policy]`, resolved.
 * @returns A factory taking the engine's components.
 */
export function policyEngine(
  config: ResolvedPolicyConfig,
): (components: PolicyEngineComponents) => PolicyEngine {
  return (components) => new PolicyEngine(config, components);
}
