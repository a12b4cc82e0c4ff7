import assert from "node:assert/strict";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ActionExecutor, type Actuator } from "./action_executor.ts";
import { AlertDispatcher } from "./alerts.ts";
import { HookRunner } from "./hook_runner.ts";
import { PolicyMetrics } from "./metrics.ts";
import { RestartBudget } from "./rails.ts";

// Issue 15, item 6: a runHook that could not run was counted outcome="executed".
Deno.test("ActionExecutor records a hook that cannot run as a failure, never as executed", async () => {
  const registry = new MetricsRegistry();
  const metrics = new PolicyMetrics(registry);
  const executor = new ActionExecutor({
    actuator: {} as Actuator, // runHook touches nothing of the node
    alerts: new AlertDispatcher({ queueSize: 1, retries: 1, instance: "x" }, metrics),
    hooks: new HookRunner({
      hooks: { scale_up: ["/usr/local/bin/scale-up"] },
      timeoutMs: 1_000,
      metrics,
      permitted: () => false,
    }),
    metrics,
    budget: new RestartBudget(3, 60_000),
    cooldownMs: 0,
    maxBanFraction: 0.1,
    onRestartSpent: () => {},
  });
  const [decided] = executor.run([{ type: "runHook", name: "scale_up" }], {
    policy: "p",
    mode: "enforce",
    verdict: "degraded",
    reasons: [],
    nowMs: 0,
    sustained: () => true,
  });
  assert.equal(decided!.outcome, "suppressed");
  assert.equal(decided!.suppressedBy, "error");
  assert.match(decided!.error!, /no run permission for \/usr\/local\/bin\/scale-up/);
  const actions = await registry.values("hopd_policy_actions_total");
  assert.deepEqual(
    actions.map((v) => [v.labels.action, v.labels.outcome, v.value]),
    [["runHook", "suppressed", 1]],
  );
});
