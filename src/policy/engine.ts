/**
 * The policy engine: every tick it takes one snapshot, evaluates each active policy in its
 * sandbox, applies the rails and modes to the actions, folds the verdicts into the node's
 * health (/ready, hopd_health_status) and writes the decision log.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ResolvedPolicyConfig } from "../config/mod.ts";
import { ActionExecutor, type Actuator } from "./action_executor.ts";
import { AlertDispatcher } from "./alerts.ts";
import { DECISIONS_RESPONSE_MAX_BYTES } from "./constants.ts";
import {
  DecisionLog,
  type DecisionRecord,
  type RecentDecisions,
  type SnapshotRecord,
} from "./decision_log.ts";
import { HookRunner, unrunnableHooks } from "./hook_runner.ts";
import { logEvaluation, logTickDone } from "./evaluation_lines.ts";
import { PolicyMetrics } from "./metrics.ts";
import { type ModuleEntry, ModuleTable, QUARANTINE_AFTER_KILLS } from "./module_table.ts";
import { modeNamesCheck } from "./mode_names.ts";
import { ModuleWatcher } from "./module_watcher.ts";
import { PluginHost } from "./plugin_host.ts";
import { type Evaluated, evaluatePolicy, sandboxLimits } from "./prepare.ts";
import { actionKey, Hysteresis, RestartBudget } from "./rails.ts";
import type { SandboxLimits } from "./sandbox.ts";
import { type SandboxRunner, sandboxRunner } from "./sandbox_host.ts";
import { StateStore } from "./state_store.ts";
import { logVerdictChange, type VerdictChange, VerdictTracker } from "./verdict_changes.ts";
import { type PolicyMode, type Snapshot, type Verdict, VERDICTS } from "./types.ts";

const log = getLogger(["hopd", "policy"]);

/** What the engine reads and drives. */
export interface PolicyEngineComponents {
  /** Where the engine's metrics are registered. */
  readonly registry: MetricsRegistry;
  /** Builds the snapshot of one tick. */
  readonly snapshot: (tick: number) => Promise<Snapshot>;
  /** The daemon's control API the actions drive. */
  readonly actuator: Actuator;
  /** This node's peer ID (the alerts' `instance`). */
  readonly peerId: string;
  /** Where the decision log and policy state live; undefined = memory only. */
  readonly dataDir?: string;
  /** For alert delivery (tests). */
  readonly fetch?: typeof fetch;
  /**
   * Ticks, restart budget times, module watching, plugin call budgets and `ctx.now` of
   * fixtures. The sandbox's runaway deadline runs in its worker on real time regardless.
   * @default SYSTEM_CLOCK
   */
  readonly clock?: Clock;
  /**
   * Told after a change of a watched directory was applied, with the module names it
   * touched (a test waits on it instead of polling). Must not throw.
   */
  readonly onModulesChanged?: (kind: "policy" | "plugin", names: ReadonlySet<string>) => void;
  /**
   * Told once, when the first tick is done: the start's last garbage (the first evaluations'
   * compiles and allocations on the main thread) is garbage by then, so the daemon gives the
   * memory back here (src/memory/), not only at the start. Must not throw.
   */
  readonly onFirstTick?: () => void;
}

/** The node's health as the policies judge it. */
export interface Health {
  /** The worst verdict of the policies in enforce mode (healthy when none runs). */
  readonly verdict: Verdict;
  /** The reasons behind it, each prefixed with its policy's name. */
  readonly reasons: readonly string[];
}

/** One policy or plugin in /v1/policies. */
export interface PolicyView {
  /** Its file name without `.js`. */
  readonly name: string;
  /** A health policy (policies/) or an event-hook plugin (plugins/). */
  readonly kind: "policy" | "plugin";
  /** Its path. */
  readonly file: string;
  /** Content hash of the loaded revision. */
  readonly revision: string;
  /** The mode its decisions are applied in. */
  readonly mode: PolicyMode;
  /** Active (running), failed (last load failed, nothing runs) or retired (file removed). */
  readonly state: "active" | "failed" | "retired";
  /** Its last verdict. */
  readonly lastVerdict?: Verdict;
  /** The reasons of its last verdict. */
  readonly lastReasons?: readonly string[];
  /** Its last error: load, evaluation or fixture failure. */
  readonly lastError?: string;
  /** The kind of that error (compile, runtime, timeout, memory, …). */
  readonly lastErrorKind?: string;
  /** When it last evaluated, ISO 8601. */
  readonly lastEvaluatedAt?: string;
  /** How long its last evaluation ran, in ms. */
  readonly lastDurationMs?: number;
  /** Evaluations since it was loaded. */
  readonly evaluations: number;
  /** Failed evaluations since it was loaded. */
  readonly errors: number;
  /** Its fixture cases at load: passed and failed. */
  readonly fixtures: { readonly passed: number; readonly failed: number };
}

/** What every evaluation of one tick shares. */
interface TickInput {
  readonly tick: number;
  /** The snapshot's time. */
  readonly nowMs: number;
  readonly snapshotJson: string;
}

/** One policy's evaluation in progress: the policy and its decision record so far. */
interface Evaluation {
  readonly entry: ModuleEntry;
  readonly base: Omit<DecisionRecord, "reasons" | "actions" | "durationMs">;
  readonly nowMs: number;
}

interface Judgement {
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  readonly mode: PolicyMode;
}

const worst = (a: Verdict, b: Verdict): Verdict =>
  VERDICTS.indexOf(a) >= VERDICTS.indexOf(b) ? a : b;

/** Runs policies on a tick and plugins on events. */
export class PolicyEngine {
  /** The operator plugins (admission hooks, scoring) with their own sandbox worker. */
  readonly plugins: PluginHost;
  readonly #config: ResolvedPolicyConfig;
  readonly #c: PolicyEngineComponents;
  readonly #metrics: PolicyMetrics;
  readonly #worker: SandboxRunner;
  readonly #table: ModuleTable;
  readonly #watchers: ModuleWatcher[] = [];
  readonly #executor: ActionExecutor;
  readonly #alerts: AlertDispatcher;
  readonly #decisions: DecisionLog;
  readonly #store: StateStore;
  readonly #budget: RestartBudget;
  readonly #states = new Map<string, string>();
  readonly #hysteresis = new Map<string, Hysteresis>();
  readonly #judgements = new Map<string, Judgement>();
  readonly #verdicts = new VerdictTracker();
  readonly #limits: SandboxLimits;
  #tick = 0;
  #firstTickTold = false;
  /** The `policy.modes` names last found to match no policy, joined (logged once per change). */
  #unknownModeNames = "";
  readonly #clock: Clock;
  #timer: TimerId | undefined;
  #ticking: Promise<void> | undefined;

  /**
   * Creates the engine, its sandbox worker and its plugin host; nothing runs before
   * `start()`.
   *
   * @param config `[policy]`, resolved.
   * @param components What the engine reads and drives.
   */
  constructor(config: ResolvedPolicyConfig, components: PolicyEngineComponents) {
    this.#config = config;
    this.#c = components;
    this.#clock = components.clock ?? SYSTEM_CLOCK;
    this.#metrics = new PolicyMetrics(components.registry);
    this.#limits = sandboxLimits(config);
    this.#worker = sandboxRunner(config.sandboxThread, {
      graceMs: config.killGraceMs,
      onRestart: (reason) => this.#workerRestarted(reason),
      clock: this.#clock,
    });
    this.#table = new ModuleTable({
      kind: "policy",
      dir: config.dir,
      worker: this.#worker,
      limits: this.#limits,
      metrics: this.#metrics,
      clock: this.#clock,
    });
    this.#alerts = new AlertDispatcher({
      ...(config.alertWebhook === undefined ? {} : { webhook: config.alertWebhook }),
      ...(config.alertmanagerUrl === undefined ? {} : { alertmanagerUrl: config.alertmanagerUrl }),
      queueSize: config.alertQueueSize,
      retries: config.alertRetries,
      instance: components.peerId,
      ...(components.fetch === undefined ? {} : { fetch: components.fetch }),
      clock: this.#clock,
    }, this.#metrics);
    this.#decisions = new DecisionLog({
      ...(components.dataDir === undefined ? {} : { dir: components.dataDir }),
      maxBytes: config.decisionLogBytes,
      files: config.decisionLogFiles,
      onError: (message) => log.error("Decision log: {message}", { message }),
    });
    this.#store = new StateStore(
      components.dataDir,
      (message) => log.error("Policy state: {message}", { message }),
      this.#clock,
    );
    this.#budget = new RestartBudget(config.restartBudget, config.restartWindowMs);
    this.#executor = new ActionExecutor({
      actuator: components.actuator,
      alerts: this.#alerts,
      hooks: new HookRunner({
        hooks: config.hooks,
        timeoutMs: config.hookTimeoutMs,
        metrics: this.#metrics,
        clock: this.#clock,
      }),
      metrics: this.#metrics,
      budget: this.#budget,
      cooldownMs: config.cooldownMs,
      maxBanFraction: config.maxBanFraction,
      onRestartSpent: () => this.#persist(),
    });
    this.plugins = new PluginHost(config, this.#metrics, this.#clock);
  }

  /** Loads persisted state and every module, watches the directories, starts ticking. */
  async start(): Promise<void> {
    // Once at start: every runHook of such a hook fails, and says so, until hopd gets the
    // permission (hopd config check refuses the config for it).
    for (const problem of unrunnableHooks(this.#config.hooks)) log.error("{problem}", { problem });
    const { state, warning } = await this.#store.load();
    if (warning !== undefined) log.warn("Policy state: {warning}", { warning });
    for (const [name, json] of Object.entries(state.states)) this.#states.set(name, json);
    for (const t of state.restarts) this.#budget.spend(t);
    this.#metrics.restartBudgetExhausted.set(this.#budget.exhausted(this.#clock.nowMs()) ? 1 : 0);
    const onError = (message: string) => log.error("Policy watcher: {message}", { message });
    this.#watchers.push(
      new ModuleWatcher({
        dir: this.#config.dir,
        onChange: (names) => this.#applied("policy", names, this.#syncAll(names)),
        onError,
        clock: this.#clock,
      }),
      new ModuleWatcher({
        dir: this.#config.pluginsDir,
        onChange: (names) => this.#applied("plugin", names, this.plugins.sync(names)),
        onError,
        clock: this.#clock,
      }),
    );
    await Promise.all(this.#watchers.map((w) => w.start()));
    this.#timer = this.#clock.setInterval(() => void this.tick(), this.#config.tickMs);
  }

  /** Stops ticking and watching, and flushes the log and state. */
  async stop(): Promise<void> {
    this.#clock.clearInterval(this.#timer);
    await Promise.all(this.#watchers.map((w) => w.stop()));
    await this.#ticking;
    this.#worker.close();
    this.plugins.close();
    this.#alerts.close();
    this.#persist();
    await this.#store.flush();
    await this.#decisions.close();
  }

  /** Evaluates every active policy once (a tick still running makes this a no-op). */
  tick(): Promise<void> {
    if (this.#ticking !== undefined) return this.#ticking;
    this.#ticking = this.#runTick().catch((error) => {
      log.error("Policy tick failed: {message}", { message: (error as Error).message });
    }).finally(() => {
      this.#ticking = undefined;
      if (this.#firstTickTold) return;
      this.#firstTickTold = true;
      this.#c.onFirstTick?.();
    });
    return this.#ticking;
  }

  /** Health for /ready: the worst verdict of enforce-mode policies (and fail-closed errors). */
  health(): Health {
    return this.#fold((mode) => mode === "enforce");
  }

  /** Every policy and plugin, for /v1/policies. */
  policies(): { verdict: Health; policies: PolicyView[] } {
    const view = (entry: ModuleEntry): PolicyView => ({
      name: entry.name,
      kind: entry.kind,
      file: entry.file,
      revision: entry.revision,
      mode: this.#modeOf(entry.name),
      state: entry.state,
      ...(entry.lastVerdict === undefined ? {} : { lastVerdict: entry.lastVerdict }),
      ...(entry.lastReasons === undefined ? {} : { lastReasons: entry.lastReasons }),
      ...(entry.lastError === undefined ? {} : { lastError: entry.lastError }),
      ...(entry.lastErrorKind === undefined ? {} : { lastErrorKind: entry.lastErrorKind }),
      ...(entry.lastEvaluatedAt === undefined ? {} : { lastEvaluatedAt: entry.lastEvaluatedAt }),
      ...(entry.lastDurationMs === undefined ? {} : { lastDurationMs: entry.lastDurationMs }),
      evaluations: entry.evaluations,
      errors: entry.errors,
      fixtures: {
        passed: entry.cases.filter((c) => c.passed).length,
        failed: entry.cases.filter((c) => !c.passed).length,
      },
    });
    return {
      verdict: this.health(),
      policies: [...this.#table.list(), ...this.plugins.list()].map(view),
    };
  }

  /**
   * Newest decisions first, at most `limit` and at most DECISIONS_RESPONSE_MAX_BYTES of JSON
   * (a page of /v1/decisions stays a bounded answer whatever the policies logged).
   */
  decisions(limit: number, policy?: string, notable = false): RecentDecisions {
    return this.#decisions.recent(limit, { policy, notable }, DECISIONS_RESPONSE_MAX_BYTES);
  }

  /** Restart budget state. */
  restartBudget(): { exhausted: boolean; used: number; budget: number } {
    const now = this.#clock.nowMs();
    return {
      exhausted: this.#budget.exhausted(now),
      used: this.#budget.times(now).length,
      budget: this.#config.restartBudget,
    };
  }

  /** An operator's reset of the restart budget (admin API). */
  resetRestartBudget(): void {
    this.#executor.resetBudget();
    log.info("Restart budget reset by an operator");
  }

  async #applied(
    kind: "policy" | "plugin",
    names: ReadonlySet<string>,
    sync: Promise<void>,
  ): Promise<void> {
    await sync;
    this.#c.onModulesChanged?.(kind, names);
  }

  async #syncAll(names: ReadonlySet<string>): Promise<void> {
    for (const name of names) {
      const result = await this.#table.sync(name);
      if (result === "retired") {
        this.#judgements.delete(name);
        this.#hysteresis.delete(name);
        this.#verdicts.forget(name);
      }
    }
    this.#checkModeNames();
  }

  // Typos were refused at start; a name still to come, a policy renamed or removed since, or
  // a directory that appeared only now leaves a mode that applies to nothing (yet).
  #checkModeNames(): void {
    const present = this.#table.list().filter((e) => e.state !== "retired").map((e) => e.name);
    const check = modeNamesCheck(this.#config.modes, present);
    const key = check.unknown.join(",");
    if (key === this.#unknownModeNames) return;
    this.#unknownModeNames = key;
    if (check.unknown.length > 0) {
      log.warn(
        "policy.modes names {unknown} that match no policy in {dir}: known policies are {known}",
        { unknown: check.unknown, dir: this.#config.dir, known: check.known },
      );
    }
  }

  async #runTick(): Promise<void> {
    const tick = ++this.#tick;
    const startedMs = this.#clock.monotonicMs();
    const snapshot = await this.#c.snapshot(tick);
    const snapshotJson = JSON.stringify(snapshot);
    const time = new Date(snapshot.now).toISOString();
    const records: (DecisionRecord | SnapshotRecord)[] = [];
    const active = this.#table.active();
    if (active.length > 0) records.push({ type: "snapshot", tick, time, snapshot });
    try {
      for (const entry of active) {
        records.push(await this.#evaluateOne(entry, { tick, nowMs: snapshot.now, snapshotJson }));
      }
      if (active.length > 0) {
        await this.#worker.pushHistory(snapshotJson, this.#config.historySize);
      }
    } finally {
      // Whatever one evaluation did, the health, the decision log and the state go on.
      this.#metrics.healthStatus.set(
        VERDICTS.indexOf(this.#fold((mode) => mode !== "dryrun").verdict),
      );
      this.#decisions.append(records);
      this.#persist();
      if (active.length > 0) {
        logTickDone(log, {
          tick,
          policies: active.length,
          durationMs: this.#clock.monotonicMs() - startedMs,
          health: this.health().verdict,
        });
      }
    }
  }

  /** One policy's evaluation; a failure of the host's own code is that policy's failure only. */
  async #evaluateOne(entry: ModuleEntry, tick: TickInput): Promise<DecisionRecord> {
    const evaluation: Evaluation = {
      entry,
      nowMs: tick.nowMs,
      base: {
        type: "decision",
        id: `${tick.tick}-${entry.name}`,
        time: new Date(tick.nowMs).toISOString(),
        tick: tick.tick,
        policy: entry.name,
        revision: entry.revision,
        mode: this.#modeOf(entry.name),
        seed: crypto.getRandomValues(new Uint32Array(1))[0]!,
      },
    };
    try {
      return await this.#evaluate(evaluation, tick.snapshotJson);
    } catch (error) {
      const message = `the host failed on its evaluation: ${(error as Error).message}`;
      return await this.#failedEvaluation(evaluation, { kind: "runtime", message, durationMs: 0 });
    }
  }

  /** Runs the policy, checks what it returned, keeps its state and judges its result. */
  async #evaluate(evaluation: Evaluation, snapshotJson: string): Promise<DecisionRecord> {
    const { entry, base } = evaluation;
    const { name } = entry;
    const evaluated = await evaluatePolicy(this.#worker, {
      sandbox: entry.sandbox!,
      limits: this.#limits,
      nowMs: evaluation.nowMs,
      snapshotJson,
      stateJson: this.#states.get(name) ?? "{}",
      seed: base.seed,
    });
    entry.evaluations++;
    entry.lastEvaluatedAt = base.time;
    entry.lastDurationMs = evaluated.durationMs;
    this.#metrics.evaluationSeconds.observe({ policy: name }, evaluated.durationMs / 1000);
    if (!evaluated.ok) return await this.#failedEvaluation(evaluation, evaluated);
    const stateJson = JSON.stringify(evaluated.state ?? {});
    if (stateJson.length > this.#config.stateMaxBytes) {
      return await this.#failedEvaluation(evaluation, {
        kind: "runtime",
        message: `ctx.state is ${stateJson.length} bytes as JSON, above policy.state_max_size`,
        durationMs: evaluated.durationMs,
      });
    }
    entry.consecutiveKills = 0;
    // A good evaluation clears an evaluation error, not a failed load of a newer revision
    // (that stays visible until a good revision loads).
    if (entry.lastErrorKind !== "compile" && entry.lastErrorKind !== "fixture") {
      delete entry.lastError;
      delete entry.lastErrorKind;
    }
    this.#states.set(name, stateJson);
    this.#metrics.evaluations.inc({ policy: name, result: "ok" });
    return this.#judge(evaluation, evaluated);
  }

  /**
   * Takes a valid result through hysteresis (an unhealthy verdict counts only when
   * sustained), the rails and the mode, and records the policy's judgement of the node.
   */
  #judge(
    { entry, base, nowMs }: Evaluation,
    evaluated: Extract<Evaluated, { ok: true }>,
  ): DecisionRecord {
    const { result } = evaluated;
    const keys = result.actions.map(actionKey);
    if (result.verdict === "unhealthy") keys.push("verdict:unhealthy");
    const sustained = this.#hysteresisOf(entry.name).record(keys);
    // An unhealthy verdict turns /ready 503 only when sustained; until then it is degraded.
    const effective: Verdict = result.verdict === "unhealthy" && !sustained("verdict:unhealthy")
      ? "degraded"
      : result.verdict;
    entry.lastVerdict = result.verdict;
    entry.lastReasons = result.reasons;
    const verdictChange = this.#judged(entry.name, {
      verdict: effective,
      reasons: result.reasons,
      mode: base.mode,
    });
    const actions = this.#executor.run(result.actions, {
      policy: entry.name,
      mode: base.mode,
      verdict: result.verdict,
      reasons: result.reasons,
      nowMs,
      sustained,
    });
    const record: DecisionRecord = {
      ...base,
      verdict: result.verdict,
      effectiveVerdict: effective,
      ...(verdictChange === undefined ? {} : { verdictChange }),
      reasons: result.reasons,
      actions,
      durationMs: evaluated.durationMs,
      ...(evaluated.logs.length === 0 ? {} : { logs: evaluated.logs }),
    };
    logEvaluation(log, record, entry.evaluations);
    return record;
  }

  async #failedEvaluation(
    { entry, base }: Evaluation,
    failure: { readonly kind: string; readonly message: string; readonly durationMs: number },
  ): Promise<DecisionRecord> {
    const { name } = entry;
    // Once per new error, not once per tick: a broken policy must not flood the log.
    const repeated = entry.lastError === failure.message;
    entry.errors++;
    entry.lastError = failure.message;
    entry.lastErrorKind = failure.kind;
    this.#metrics.evaluations.inc({ policy: name, result: "error" });
    this.#metrics.errors.inc({ policy: name, kind: failure.kind });
    // The evaluation's line, as a good one has its own (evaluation_lines.ts).
    log[repeated ? "debug" : "warn"]("Policy {policy} failed ({kind}): {message}", {
      policy: name,
      kind: failure.kind,
      message: failure.message,
      revision: base.revision,
      tick: base.tick,
      evaluations: entry.evaluations,
    });
    // Fail closed: a policy that cannot judge counts as unhealthy; open: it has no opinion
    // (its last verdict stays the one a change is told from).
    let verdictChange: VerdictChange | undefined;
    if (this.#config.failClosed) {
      const reasons = [`policy failed: ${failure.message}`];
      verdictChange = this.#judged(name, { verdict: "unhealthy", reasons, mode: base.mode });
    } else {
      this.#judgements.delete(name);
    }
    if (failure.kind === "killed" && ++entry.consecutiveKills >= QUARANTINE_AFTER_KILLS) {
      await this.#table.quarantine(
        name,
        `hung its sandbox worker ${entry.consecutiveKills} times in a row`,
      );
    }
    return {
      ...base,
      ...(verdictChange === undefined ? {} : { verdictChange }),
      reasons: [],
      actions: [],
      durationMs: failure.durationMs,
      error: failure.message,
      errorKind: failure.kind,
    };
  }

  /**
   * Records a policy's judgement of the node, and the change of verdict it makes, if any
   * (logged once, when it happens).
   */
  #judged(policy: string, judgement: Judgement): VerdictChange | undefined {
    this.#judgements.set(policy, judgement);
    const change = this.#verdicts.note(policy, judgement.verdict);
    if (change !== undefined) {
      logVerdictChange(log, { policy, mode: judgement.mode, change, reasons: judgement.reasons });
    }
    return change;
  }

  #fold(include: (mode: PolicyMode) => boolean): Health {
    let verdict: Verdict = "healthy";
    const reasons: string[] = [];
    for (const [name, judgement] of this.#judgements) {
      if (!include(judgement.mode) || this.#table.get(name)?.sandbox === undefined) continue;
      verdict = worst(verdict, judgement.verdict);
      if (judgement.verdict !== "healthy") {
        for (const reason of judgement.reasons) reasons.push(`${name}: ${reason}`);
      }
    }
    return { verdict, reasons };
  }

  #modeOf(name: string): PolicyMode {
    return this.#config.modes[name] ?? this.#config.mode;
  }

  #hysteresisOf(name: string): Hysteresis {
    let h = this.#hysteresis.get(name);
    if (h === undefined) {
      h = new Hysteresis(this.#config.hysteresisFor, this.#config.hysteresisOf);
      this.#hysteresis.set(name, h);
    }
    return h;
  }

  #persist(): void {
    this.#store.save(() => ({
      states: Object.fromEntries(this.#states),
      restarts: this.#budget.times(this.#clock.nowMs()),
    }));
  }

  #workerRestarted(reason: string): void {
    this.#metrics.workerRestarts.inc();
    log.error("Policy sandbox killed and restarted: {reason}", { reason });
  }
}
