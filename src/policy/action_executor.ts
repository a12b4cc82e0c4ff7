/**
 * From the actions a policy asked for to what the host did: the rails first (hysteresis,
 * cooldown, idempotence, restart budget, ban cap, declared hooks), then the policy's mode
 * (enforce runs it; warn logs it at WARN and still delivers alerts; dryrun records it and
 * logs it at INFO), then the daemon's control API. A failing action is recorded, never
 * thrown; one held back by a rail is logged at debug.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { AlertDispatcher } from "./alerts.ts";
import type { DecidedAction } from "./decision_log.ts";
import type { HookRunner } from "./hook_runner.ts";
import type { PolicyMetrics } from "./metrics.ts";
import { actionKey, banCap, Cooldowns, type RestartBudget, type SuppressedBy } from "./rails.ts";
import type { Action, PolicyMode, Verdict } from "./types.ts";

const log = getLogger(["hopd", "policy", "actions"]);

/** The daemon's control API, as policies may drive it. */
export interface Actuator {
  /** Scales every rate limit and bandwidth cap by `factor` for `forMs` (throttle action). */
  throttle(factor: number, forMs: number): void;
  /**
   * Sets one live limit (setLimit action).
   *
   * @throws {RangeError} For an unknown key or a bad value.
   */
  setLimit(key: string, value: number): void;
  /** The current value of a limit key, when known. */
  limit(key: string): number | undefined;
  /** True while the node drains. */
  draining(): boolean;
  /** Starts (true) or ends (false) a drain (drain and resume actions). */
  setDraining(draining: boolean): void;
  /** Graceful restart: drain, then exit with EXIT_POLICY_RESTART. */
  restart(reason: string): void;
  /** True when the peer or CIDR is banned now (a repeated ban is then a no-op). */
  isBanned(target: { readonly peer?: string; readonly cidr?: string }): boolean;
  /**
   * What a ban would cover: the addresses (1 for a peer, a CIDR's addresses, IPv6 in /64
   * networks) and, when the block is wider than `limits.ban_prefix_min_v4`/`_v6`, why.
   *
   * @throws {RangeError} A CIDR that does not parse.
   */
  banScope(target: { readonly peer?: string; readonly cidr?: string }): {
    readonly addresses: number;
    readonly tooWide?: string;
  };
  /** Bans a peer or a CIDR for `ttlMs` (ban action). */
  ban(
    target: { readonly peer?: string; readonly cidr?: string },
    ttlMs: number,
    reason: string,
  ): void;
  /** Closes every connection of a peer (disconnect action); resolves with how many were closed. */
  disconnect(peer: string): Promise<number>;
  /** Peers connected now (the base of the ban cap, `policy.max_ban_fraction`). */
  connectedPeers(): number;
  /** Balancer weight; absent when federation is off. */
  readonly weight?: {
    get(): number;
    set(weight: number): void;
  };
}

/** What an evaluation decided, for context in hooks and alerts. */
export interface DecisionContext {
  readonly policy: string;
  readonly mode: PolicyMode;
  readonly verdict: Verdict;
  readonly reasons: readonly string[];
  readonly nowMs: number;
  /** Whether the action was asked for in N of the last M ticks. */
  readonly sustained: (key: string) => boolean;
}

/** What the executor needs. */
export interface ActionExecutorInit {
  readonly actuator: Actuator;
  readonly alerts: AlertDispatcher;
  readonly hooks: HookRunner;
  readonly metrics: PolicyMetrics;
  readonly budget: RestartBudget;
  readonly cooldownMs: number;
  readonly maxBanFraction: number;
  /** Told when a restart was spent (to persist the budget). */
  readonly onRestartSpent: () => void;
}

/** Applies rails and modes, then acts. */
export class ActionExecutor {
  readonly #init: ActionExecutorInit;
  readonly #cooldowns = new Map<string, Cooldowns>();
  /** Bans made by policies: their expiry and the addresses they cover, for the ban cap. */
  readonly #policyBans = new Map<string, { expiresAtMs: number; addresses: number }>();
  #budgetAlerted = false;

  constructor(init: ActionExecutorInit) {
    this.#init = init;
  }

  /** Decides and runs one evaluation's actions. */
  run(actions: readonly Action[], context: DecisionContext): DecidedAction[] {
    return actions.map((action) => {
      const decided = this.#decide(action, context);
      // A failed action is logged at ERROR where it failed; the other rails hold actions back
      // routinely (hysteresis and cooldown on most ticks), so at debug.
      if (decided.outcome === "suppressed" && decided.suppressedBy !== "error") {
        log.debug("Policy {policy} held back {action}: {suppressedBy}", () => ({
          policy: context.policy,
          mode: context.mode,
          action: JSON.stringify(action),
          suppressedBy: decided.suppressedBy,
        }));
      }
      this.#init.metrics.actions.inc({
        policy: context.policy,
        action: action.type,
        outcome: decided.outcome,
      });
      return decided;
    });
  }

  /** Whether restarts are held back by the budget (for the metric and /v1/policies). */
  budgetExhausted(nowMs: number): boolean {
    return this.#init.budget.exhausted(nowMs);
  }

  /** An operator's reset of the restart budget. */
  resetBudget(): void {
    this.#init.budget.reset();
    this.#budgetAlerted = false;
    this.#init.metrics.restartBudgetExhausted.set(0);
    this.#init.onRestartSpent();
  }

  #decide(action: Action, context: DecisionContext): DecidedAction {
    const key = actionKey(action);
    const suppressed = (by: SuppressedBy, error?: string): DecidedAction => ({
      ...action,
      outcome: "suppressed",
      suppressedBy: by,
      ...(error === undefined ? {} : { error }),
    });
    if (!context.sustained(key)) return suppressed("hysteresis");
    const cooldowns = this.#cooldownsOf(context.policy);
    if (!cooldowns.ready(key, context.nowMs)) return suppressed("cooldown");
    const blocked = this.#railFor(action, context);
    if (blocked !== undefined) return suppressed(blocked);

    const deliverAlertAnyway = action.type === "alert" && context.mode === "warn";
    if (context.mode === "dryrun" || (context.mode === "warn" && !deliverAlertAnyway)) {
      cooldowns.ran(key, context.nowMs);
      // As often as it would have run (the rails apply as if it had). Dryrun at info: it is
      // what an operator trying a policy on live traffic reads.
      const properties = { policy: context.policy, action: JSON.stringify(action) };
      if (context.mode === "warn") {
        log.warn("Policy {policy} (warn mode) would run {action}", properties);
      } else {
        log.info("Policy {policy} (dryrun mode) would run {action}", properties);
      }
      return { ...action, outcome: context.mode === "dryrun" ? "dryrun" : "warned" };
    }
    try {
      this.#execute(action, context);
    } catch (error) {
      log.error("Policy {policy} action {action} failed: {message}", {
        policy: context.policy,
        action: JSON.stringify(action),
        message: (error as Error).message,
      });
      return suppressed("error", (error as Error).message);
    }
    cooldowns.ran(key, context.nowMs);
    if (action.type !== "alert") {
      log.info("Policy {policy} ran {action}", {
        policy: context.policy,
        action: JSON.stringify(action),
      });
    }
    return { ...action, outcome: "executed" };
  }

  // The rails that do not depend on time windows: idempotence, budget, cap, declarations.
  #railFor(action: Action, context: DecisionContext): SuppressedBy | undefined {
    const { actuator, hooks } = this.#init;
    switch (action.type) {
      case "drain":
        return actuator.draining() ? "idempotent" : undefined;
      case "resume":
        return actuator.draining() ? undefined : "idempotent";
      case "setLimit":
        return actuator.limit(action.key) === action.value ? "idempotent" : undefined;
      case "setWeight":
        if (actuator.weight === undefined) return "no_federation";
        return actuator.weight.get() === action.weight ? "idempotent" : undefined;
      case "runHook":
        if (!hooks.declared(action.name)) return "undeclared_hook";
        return hooks.running(action.name) ? "idempotent" : undefined;
      case "ban": {
        if (actuator.isBanned(action)) return "idempotent";
        let scope: { addresses: number; tooWide?: string };
        try {
          scope = actuator.banScope(action);
        } catch {
          return undefined; // a CIDR that does not parse: the ban itself fails, with the reason
        }
        // Never from a policy, whatever the mode: only an operator may force a wide ban.
        if (scope.tooWide !== undefined) return "ban_too_wide";
        // The cap counts addresses, not bans: one 0.0.0.0/0 is not "one ban".
        const live = this.#livePolicyBanAddresses(context.nowMs);
        const cap = banCap(this.#init.maxBanFraction, actuator.connectedPeers());
        return live + scope.addresses > cap ? "ban_cap" : undefined;
      }
      case "restart":
        if (!this.#init.budget.exhausted(context.nowMs)) return undefined;
        this.#alertBudgetExhausted(context);
        return "budget";
      default:
        return undefined;
    }
  }

  #execute(action: Action, context: DecisionContext): void {
    const { actuator } = this.#init;
    switch (action.type) {
      case "throttle":
        return actuator.throttle(action.factor, action.forMs);
      case "setLimit":
        return actuator.setLimit(action.key, action.value);
      case "drain":
        return actuator.setDraining(true);
      case "resume":
        return actuator.setDraining(false);
      case "restart":
        this.#init.budget.spend(context.nowMs);
        this.#init.onRestartSpent();
        return actuator.restart(`policy ${context.policy}: ${context.reasons.join("; ")}`);
      case "ban": {
        const target = action.peer !== undefined ? { peer: action.peer } : { cidr: action.cidr! };
        actuator.ban(target, action.ttlMs, action.reason ?? `policy ${context.policy}`);
        this.#policyBans.set(action.peer ?? action.cidr!, {
          expiresAtMs: context.nowMs + action.ttlMs,
          addresses: actuator.banScope(target).addresses,
        });
        return;
      }
      case "disconnect":
        void actuator.disconnect(action.peer);
        return;
      case "alert":
        return this.#init.alerts.send({
          severity: action.severity,
          summary: action.summary,
          labels: action.labels ?? {},
          policy: context.policy,
          time: new Date(context.nowMs).toISOString(),
        });
      case "setWeight":
        return actuator.weight!.set(action.weight);
      case "runHook":
        void this.#init.hooks.run(action.name, {
          HOPD_POLICY: context.policy,
          HOPD_VERDICT: context.verdict,
          HOPD_REASONS: context.reasons.join("\n"),
        });
        return;
    }
  }

  #cooldownsOf(policy: string): Cooldowns {
    let cooldowns = this.#cooldowns.get(policy);
    if (cooldowns === undefined) {
      cooldowns = new Cooldowns(this.#init.cooldownMs);
      this.#cooldowns.set(policy, cooldowns);
    }
    return cooldowns;
  }

  #livePolicyBanAddresses(nowMs: number): number {
    let addresses = 0;
    for (const [target, ban] of this.#policyBans) {
      if (ban.expiresAtMs <= nowMs) this.#policyBans.delete(target);
      else addresses += ban.addresses;
    }
    return addresses;
  }

  #alertBudgetExhausted(context: DecisionContext): void {
    this.#init.metrics.restartBudgetExhausted.set(1);
    if (this.#budgetAlerted) return;
    this.#budgetAlerted = true;
    this.#init.alerts.send({
      severity: "critical",
      summary: `Restart budget exhausted: policy ${context.policy} asked for a restart ` +
        "(held back; reset with POST /v1/admin/policies/restart-budget/reset)",
      labels: { alertname: "HopdRestartBudgetExhausted" },
      policy: context.policy,
      time: new Date(context.nowMs).toISOString(),
    });
  }
}
