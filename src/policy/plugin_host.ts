/**
 * Operator plugins (plugins/*.js) in their own sandbox worker, separate from the policies so
 * a slow policy never delays an admission. Admission hooks (onReservation, onCircuit) answer
 * within policy.plugin_budget or count as failed (open = accept, closed = refuse); the
 * scoring hook adjusts the balancer's candidate scores. Plugins are pure: each call gets the
 * event and an empty ctx.state.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { ResolvedPolicyConfig } from "../config/mod.ts";
import type { PolicyMetrics } from "./metrics.ts";
import { type ModuleEntry, ModuleTable } from "./module_table.ts";
import { type PluginHook, sandboxLimits } from "./prepare.ts";
import type { SandboxLimits } from "./sandbox.ts";
import { type SandboxRunner, sandboxRunner } from "./sandbox_host.ts";
import { ADMISSION_SCHEMA, describeIssue } from "./types.ts";

const log = getLogger(["hopd", "policy", "plugins"]);

/** A plugin's admission answer. */
export interface PluginAdmission {
  /** True to admit, false to refuse. */
  readonly accept: boolean;
  /** Why it refused, with the plugin's name ("plugin:<name>: <reason>"). */
  readonly reason?: string;
}

const ACCEPT: PluginAdmission = { accept: true };

/** Runs plugin hooks with budgets. */
export class PluginHost {
  readonly #config: ResolvedPolicyConfig;
  readonly #clock: Clock;
  readonly #metrics: PolicyMetrics;
  readonly #worker: SandboxRunner;
  readonly #table: ModuleTable;
  readonly #limits: SandboxLimits;

  /**
   * Creates the host and its sandbox worker; plugins load on the first {@linkcode sync}.
   *
   * @param config The policy config (plugins dir, budget, fail mode).
   * @param metrics Where calls and errors are counted.
   * @param clock Each call's budget timer, its `ctx.now` and its duration (the sandbox's own
   *   deadline runs in its worker, on real time, regardless). @default SYSTEM_CLOCK
   */
  constructor(
    config: ResolvedPolicyConfig,
    metrics: PolicyMetrics,
    clock: Clock = SYSTEM_CLOCK,
  ) {
    this.#config = config;
    this.#clock = clock;
    this.#metrics = metrics;
    this.#limits = sandboxLimits(config, config.pluginBudgetMs);
    this.#worker = sandboxRunner(config.sandboxThread, {
      graceMs: config.killGraceMs,
      onRestart: (reason) => {
        metrics.workerRestarts.inc();
        log.error("Plugin sandbox killed and restarted: {reason}", { reason });
      },
      clock,
    });
    this.#table = new ModuleTable({
      kind: "plugin",
      dir: config.pluginsDir,
      worker: this.#worker,
      limits: this.#limits,
      metrics,
      clock,
    });
  }

  /** Brings the named plugins in line with their files. */
  async sync(names: ReadonlySet<string>): Promise<void> {
    for (const name of names) await this.#table.sync(name);
  }

  /** Every plugin the host knows, loaded or failed. */
  list(): ModuleEntry[] {
    return this.#table.list();
  }

  /** Terminates the plugins' sandbox worker. */
  close(): void {
    this.#worker.close();
  }

  /** Asks every plugin with onReservation; undefined when none has it (no wait at all). */
  reservation(event: { peer: string; ip?: string }): Promise<PluginAdmission> | undefined {
    return this.#admit("onReservation", event);
  }

  /** Asks every plugin with onCircuit; undefined when none has it. */
  circuit(
    event: { source: string; ip?: string; target: string },
  ): Promise<PluginAdmission> | undefined {
    return this.#admit("onCircuit", event);
  }

  /**
   * Sums the score adjustments of every plugin with `score(candidates, hints)` (one number
   * per candidate); undefined when none has it. A failing plugin adjusts nothing.
   */
  score(candidates: readonly unknown[], hints: unknown): Promise<number[]> | undefined {
    const plugins = this.#with("score");
    if (plugins.length === 0) return undefined;
    return (async () => {
      const total = candidates.map(() => 0);
      for (const plugin of plugins) {
        const answer = await this.#call(plugin, "score", [candidates, hints]);
        if (!answer.ok) {
          this.#count(plugin, "score", answer.result);
          continue;
        }
        const value = answer.value;
        if (
          !Array.isArray(value) || value.length !== candidates.length ||
          !value.every((v) => typeof v === "number" && Number.isFinite(v))
        ) {
          plugin.lastError = `score must return one finite number per candidate`;
          this.#count(plugin, "score", "error");
          continue;
        }
        this.#count(plugin, "score", "accept");
        (value as number[]).forEach((v, i) => total[i]! += v);
      }
      return total;
    })();
  }

  #with(hook: PluginHook): ModuleEntry[] {
    return this.#table.active().filter((e) => e.exports.includes(hook));
  }

  #admit(hook: PluginHook, event: unknown): Promise<PluginAdmission> | undefined {
    const plugins = this.#with(hook);
    if (plugins.length === 0) return undefined;
    return (async () => {
      const started = this.#clock.monotonicMs();
      try {
        for (const plugin of plugins) {
          const answer = await this.#call(plugin, hook, [event]);
          if (!answer.ok) {
            this.#count(plugin, hook, answer.result);
            if (this.#config.pluginFailClosed) {
              return { accept: false, reason: `plugin:${plugin.name}: ${answer.result}` };
            }
            continue;
          }
          const parsed = ADMISSION_SCHEMA.safeParse(answer.value);
          if (!parsed.success) {
            this.#count(plugin, hook, "error");
            plugin.lastError = `${hook} returned an invalid answer: ${describeIssue(parsed.error)}`;
            if (this.#config.pluginFailClosed) {
              return { accept: false, reason: `plugin:${plugin.name}: invalid answer` };
            }
            continue;
          }
          this.#count(plugin, hook, parsed.data.accept ? "accept" : "refuse");
          if (!parsed.data.accept) {
            return {
              accept: false,
              reason: `plugin:${plugin.name}: ${parsed.data.reason ?? "refused"}`,
            };
          }
        }
        return ACCEPT;
      } finally {
        this.#metrics.pluginSeconds.observe({ hook }, (this.#clock.monotonicMs() - started) / 1000);
      }
    })();
  }

  async #call(
    plugin: ModuleEntry,
    hook: PluginHook,
    args: unknown[],
  ): Promise<{ ok: true; value: unknown } | { ok: false; result: "error" | "timeout" }> {
    const budgetMs = this.#config.pluginBudgetMs;
    let timer: TimerId | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = this.#clock.setTimeout(() => resolve("timeout"), budgetMs);
    });
    const call = this.#worker.call({
      name: plugin.sandbox!,
      fn: hook,
      argsJson: JSON.stringify(args),
      stateJson: "{}",
      nowMs: this.#clock.nowMs(),
      seed: 1,
    }, budgetMs);
    const outcome = await Promise.race([call, timeout]);
    this.#clock.clearTimeout(timer);
    plugin.evaluations++;
    if (outcome === "timeout") {
      plugin.errors++;
      plugin.lastError = `${hook} missed its ${budgetMs} ms budget`;
      return { ok: false, result: "timeout" };
    }
    if (!outcome.ok) {
      plugin.errors++;
      plugin.lastError = `${hook}: ${outcome.message}`;
      plugin.lastErrorKind = outcome.kind;
      this.#metrics.errors.inc({ policy: plugin.name, kind: outcome.kind });
      return { ok: false, result: outcome.kind === "timeout" ? "timeout" : "error" };
    }
    return { ok: true, value: outcome.result };
  }

  #count(plugin: ModuleEntry, hook: PluginHook, result: string): void {
    this.#metrics.pluginCalls.inc({ plugin: plugin.name, hook, result });
  }
}
