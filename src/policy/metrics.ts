/**
 * The policy engine's Prometheus metrics (names agreed in docs/POLICIES.md and the alert rules).
 *
 * @module
 */

import type { Counter, Gauge, Histogram, MetricsRegistry } from "../metrics/mod.ts";

/** Every metric of the policy engine and its plugins. */
export class PolicyMetrics {
  readonly healthStatus: Gauge;
  readonly evaluations: Counter<"policy" | "result">;
  readonly evaluationSeconds: Histogram<"policy">;
  readonly errors: Counter<"policy" | "kind">;
  readonly reloads: Counter<"policy" | "result">;
  readonly loaded: Gauge<"kind">;
  readonly actions: Counter<"policy" | "action" | "outcome">;
  readonly restartBudgetExhausted: Gauge;
  readonly workerRestarts: Counter;
  readonly alerts: Counter<"severity">;
  readonly alertDeliveries: Counter<"sink" | "result">;
  readonly pluginCalls: Counter<"plugin" | "hook" | "result">;
  readonly pluginSeconds: Histogram<"hook">;
  readonly hookRuns: Counter<"hook" | "result">;

  constructor(registry: MetricsRegistry) {
    this.healthStatus = registry.gauge({
      name: "hopd_health_status",
      help: "Worst verdict of the enforce and warn policies: 0 healthy, 1 degraded, 2 unhealthy.",
    });
    this.evaluations = registry.counter({
      name: "hopd_policy_evaluations_total",
      help: "Policy evaluations by result (ok, error).",
      labelNames: ["policy", "result"],
    });
    this.evaluationSeconds = registry.histogram({
      name: "hopd_policy_evaluation_seconds",
      help: "Time one policy evaluation ran inside its sandbox.",
      labelNames: ["policy"],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    });
    this.errors = registry.counter({
      name: "hopd_policy_errors_total",
      help:
        "Policy failures by kind (compile, runtime, timeout, memory, killed, invalid_result, fixture).",
      labelNames: ["policy", "kind"],
    });
    this.reloads = registry.counter({
      name: "hopd_policy_reloads_total",
      help: "Policy and plugin (re)loads from disk by result (ok, error).",
      labelNames: ["policy", "result"],
    });
    this.loaded = registry.gauge({
      name: "hopd_policies_loaded",
      help: "Policies and plugins active.",
      labelNames: ["kind"],
    });
    this.actions = registry.counter({
      name: "hopd_policy_actions_total",
      help: "Actions asked for by policies, by outcome (executed, dryrun, warned, suppressed).",
      labelNames: ["policy", "action", "outcome"],
    });
    this.restartBudgetExhausted = registry.gauge({
      name: "hopd_policy_restart_budget_exhausted",
      help: "1 while the restart budget is used up (restarts become alerts until reset).",
    });
    this.workerRestarts = registry.counter({
      name: "hopd_policy_worker_restarts_total",
      help: "Sandbox workers killed and restarted because a call overran its deadline.",
    });
    this.alerts = registry.counter({
      name: "hopd_alerts_total",
      help: "Alerts raised by policies, by severity.",
      labelNames: ["severity"],
    });
    this.alertDeliveries = registry.counter({
      name: "hopd_alert_deliveries_total",
      help: "Alert deliveries by sink (webhook, alertmanager) and result (ok, error, dropped).",
      labelNames: ["sink", "result"],
    });
    this.pluginCalls = registry.counter({
      name: "hopd_plugin_calls_total",
      help: "Plugin hook calls by result (accept, refuse, error, timeout).",
      labelNames: ["plugin", "hook", "result"],
    });
    this.pluginSeconds = registry.histogram({
      name: "hopd_plugin_call_seconds",
      help: "Time a plugin hook took to answer, as the relay saw it.",
      labelNames: ["hook"],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
    });
    this.hookRuns = registry.counter({
      name: "hopd_policy_hook_runs_total",
      help: "runHook runs by how they ended: ok (exit 0), failed (other exit code), timeout " +
        "(killed at hook_timeout), not_permitted (no run permission), spawn_error.",
      labelNames: ["hook", "result"],
    });
  }
}
