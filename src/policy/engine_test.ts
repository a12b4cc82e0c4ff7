import { ManualClock } from "../clock/mod.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { MetricsRegistry } from "../metrics/mod.ts";
import { loadConfig, type ResolvedPolicyConfig } from "../config/mod.ts";
import { banScope } from "../ratelimit/mod.ts";
import type { Actuator } from "./action_executor.ts";
import { PolicyEngine, type PolicyEngineComponents } from "./engine.ts";
import { DECISIONS_RESPONSE_MAX_BYTES } from "./constants.ts";
import { exampleSnapshot } from "./example_snapshot.ts";
import type { Snapshot } from "./types.ts";

const PEER = "12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi";

class FakeActuator implements Actuator {
  calls: string[] = [];
  isDraining = false;
  throttle(factor: number, forMs: number) {
    this.calls.push(`throttle ${factor} ${forMs}`);
  }
  setLimit(key: string, value: number) {
    if (key === "bogus") throw new RangeError("unknown limit key 'bogus'");
    this.calls.push(`setLimit ${key} ${value}`);
  }
  limit() {
    return undefined;
  }
  draining() {
    return this.isDraining;
  }
  setDraining(draining: boolean) {
    this.isDraining = draining;
    this.calls.push(draining ? "drain" : "resume");
  }
  restart(reason: string) {
    this.calls.push(`restart ${reason}`);
  }
  isBanned() {
    return false;
  }
  banScope(target: { peer?: string; cidr?: string }) {
    return banScope(target, { prefixMinV4: 16, prefixMinV6: 32 });
  }
  ban(target: { peer?: string; cidr?: string }) {
    this.calls.push(`ban ${target.peer ?? target.cidr}`);
  }
  disconnect(peer: string) {
    this.calls.push(`disconnect ${peer}`);
    return Promise.resolve(1);
  }
  connectedPeers() {
    return 100;
  }
}

interface Rig {
  engine: PolicyEngine;
  actuator: FakeActuator;
  registry: MetricsRegistry;
  dir: string;
  dataDir: string;
  snapshot: { value: Partial<Snapshot> };
  /** Resolves once a watched directory's change has been applied and `check` holds. */
  applied(check: () => boolean): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function rig(
  policy: Record<string, unknown> = {},
  dataDir?: string,
  components: Partial<PolicyEngineComponents> = {},
): Promise<Rig> {
  const root = await Deno.makeTempDir({ prefix: "hopd-engine-" });
  const dir = join(root, "policies");
  await Deno.mkdir(dir);
  const data = dataDir ?? join(root, "data");
  await Deno.mkdir(data, { recursive: true });
  const config: ResolvedPolicyConfig = (await loadConfig({
    overrides: {
      policy: {
        dir,
        plugins_dir: join(root, "plugins"),
        tick: "1h", // tests call tick() themselves
        hysteresis_for: 1,
        hysteresis_of: 1,
        cooldown: "0",
        ...policy,
      },
    },
  })).policy;
  const actuator = new FakeActuator();
  const registry = new MetricsRegistry();
  const snapshot = { value: {} as Partial<Snapshot> };
  let tick = 0;
  const waiters: (() => void)[] = [];
  const engine = new PolicyEngine(config, {
    onModulesChanged: () => waiters.splice(0).forEach((wake) => wake()),
    registry,
    peerId: PEER,
    dataDir: data,
    actuator,
    snapshot: () =>
      Promise.resolve({ ...exampleSnapshot(Date.now()), ...snapshot.value, tick: ++tick }),
    fetch: () => Promise.resolve(new Response("ok")),
    ...components,
  });
  return {
    engine,
    actuator,
    registry,
    dir,
    dataDir: data,
    snapshot,
    async applied(check) {
      // Each save reaches the engine through the directory watcher (real file system events
      // and its debounce): wait for the engine to say it applied one, then check again.
      // The deadline only turns a change that never arrives into a failure, not a hang.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const missed = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no change was applied in 5 s")), 5_000);
      });
      try {
        while (!check()) await Promise.race([new Promise<void>((r) => waiters.push(r)), missed]);
      } finally {
        clearTimeout(timer);
      }
    },
    async [Symbol.asyncDispose]() {
      await engine.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** Saves like an editor: write a temp file, rename over the target. */
async function save(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `.${name}.swp`);
  await Deno.writeTextFile(temp, text);
  await Deno.rename(temp, join(dir, name));
}

const policy = (verdict: string, actions: unknown[] = [], extra = "") =>
  `export function evaluate(s, ctx) { ${extra} return { verdict: "${verdict}", reasons: ["because"], actions: ${
    JSON.stringify(actions)
  } }; }`;

async function metricValue(
  registry: MetricsRegistry,
  name: string,
  labels: Record<string, string>,
) {
  const values = await registry.values(name);
  const match = values.find((v) =>
    Object.entries(labels).every(([k, value]) => v.labels[k] === value)
  );
  return match?.value ?? 0;
}

Deno.test("PolicyEngine hot-reloads a saved policy, keeps the last good one and retires a deleted one", async () => {
  await using r = await rig();
  await save(r.dir, "p.js", policy("healthy"));
  await r.engine.start();
  const view = () => r.engine.policies().policies.find((p) => p.name === "p")!;
  assert.equal(view().state, "active");
  const first = view().revision;

  await save(r.dir, "p.js", policy("unhealthy"));
  await r.applied(() => view().revision !== first);
  await r.engine.tick();
  assert.equal(r.engine.health().verdict, "unhealthy");
  assert.deepEqual(r.engine.health().reasons, ["p: because"]);

  const good = view().revision;
  await save(r.dir, "p.js", "export function evaluate( {");
  await r.applied(() => view().lastError !== undefined);
  assert.equal(view().revision, good);
  assert.equal(view().state, "active");
  assert.equal(view().lastErrorKind, "compile");
  assert.equal(await metricValue(r.registry, "hopd_policy_reloads_total", { result: "error" }), 1);
  await r.engine.tick();
  assert.equal(view().lastVerdict, "unhealthy"); // still the last good revision

  await Deno.remove(join(r.dir, "p.js"));
  await r.applied(() => view().state === "retired");
  assert.equal(r.engine.health().verdict, "healthy");
});

Deno.test("PolicyEngine refuses a revision whose fixtures fail", async () => {
  await using r = await rig();
  await save(r.dir, "p.js", policy("healthy"));
  await save(
    r.dir,
    "p_test.js",
    `export const cases = [{ name: "wants degraded", snapshot: {}, expect: { verdict: "degraded" } }];`,
  );
  await r.engine.start();
  const view = r.engine.policies().policies.find((p) => p.name === "p")!;
  assert.equal(view.state, "failed");
  assert.match(
    view.lastError!,
    /1 of 1 fixture cases failed: "wants degraded": verdict is healthy/,
  );
  assert.deepEqual(view.fixtures, { passed: 0, failed: 1 });
});

Deno.test("PolicyEngine modes: enforce runs, warn only alerts, dryrun records", async () => {
  const actions = [{ type: "drain" }, {
    type: "alert",
    severity: "warning",
    summary: "look",
  }];
  for (const mode of ["enforce", "warn", "dryrun"] as const) {
    await using r = await rig({ mode });
    await save(r.dir, "p.js", policy("degraded", actions));
    await r.engine.start();
    await r.engine.tick();
    const [decision] = r.engine.decisions(1).decisions;
    const outcomes = decision!.actions.map((a) => `${a.type}:${a.outcome}`);
    const alerts = await metricValue(r.registry, "hopd_alerts_total", { severity: "warning" });
    if (mode === "enforce") {
      assert.deepEqual(r.actuator.calls, ["drain"]);
      assert.deepEqual(outcomes, ["drain:executed", "alert:executed"]);
      assert.equal(alerts, 1);
    } else if (mode === "warn") {
      assert.deepEqual(r.actuator.calls, []);
      assert.deepEqual(outcomes, ["drain:warned", "alert:executed"]);
      assert.equal(alerts, 1);
    } else {
      assert.deepEqual(r.actuator.calls, []);
      assert.deepEqual(outcomes, ["drain:dryrun", "alert:dryrun"]);
      assert.equal(alerts, 0);
    }
  }
});

Deno.test("PolicyEngine rails: hysteresis, cooldown and the restart budget hold", async (t) => {
  await t.step("an action needs N of M ticks", async () => {
    await using r = await rig({ hysteresis_for: 2, hysteresis_of: 3 });
    await save(r.dir, "p.js", policy("unhealthy", [{ type: "drain" }]));
    await r.engine.start();
    await r.engine.tick();
    assert.deepEqual(r.actuator.calls, []);
    assert.equal(r.engine.health().verdict, "degraded"); // unhealthy not yet sustained
    assert.equal(r.engine.decisions(1).decisions[0]!.actions[0]!.suppressedBy, "hysteresis");
    await r.engine.tick();
    assert.deepEqual(r.actuator.calls, ["drain"]);
    assert.equal(r.engine.health().verdict, "unhealthy");
  });
  await t.step("a cooldown holds the same action back", async () => {
    await using r = await rig({ cooldown: "1h" });
    await save(r.dir, "p.js", policy("degraded", [{ type: "throttle", factor: 0.5, forMs: 1000 }]));
    await r.engine.start();
    await r.engine.tick();
    await r.engine.tick();
    assert.deepEqual(r.actuator.calls, ["throttle 0.5 1000"]);
    assert.equal(r.engine.decisions(1).decisions[0]!.actions[0]!.suppressedBy, "cooldown");
  });
  await t.step("restarts stop at the budget, alert once, and reset", async () => {
    await using r = await rig({ restart_budget: 1 });
    await save(r.dir, "p.js", policy("unhealthy", [{ type: "restart" }]));
    await r.engine.start();
    await r.engine.tick();
    await r.engine.tick();
    await r.engine.tick();
    assert.equal(r.actuator.calls.filter((c) => c.startsWith("restart")).length, 1);
    assert.equal(r.engine.decisions(1).decisions[0]!.actions[0]!.suppressedBy, "budget");
    assert.equal(await metricValue(r.registry, "hopd_policy_restart_budget_exhausted", {}), 1);
    assert.equal(await metricValue(r.registry, "hopd_alerts_total", { severity: "critical" }), 1);
    r.engine.resetRestartBudget();
    await r.engine.tick();
    assert.equal(r.actuator.calls.filter((c) => c.startsWith("restart")).length, 2);
  });
  await t.step("the restart budget survives a restart of hopd", async () => {
    const dataDir = await Deno.makeTempDir();
    {
      await using r = await rig({ restart_budget: 1 }, dataDir);
      await save(r.dir, "p.js", policy("unhealthy", [{ type: "restart" }]));
      await r.engine.start();
      await r.engine.tick();
      assert.equal(r.actuator.calls.length, 1);
    }
    await using again = await rig({ restart_budget: 1 }, dataDir);
    await save(again.dir, "p.js", policy("unhealthy", [{ type: "restart" }]));
    await again.engine.start();
    await again.engine.tick();
    assert.deepEqual(again.actuator.calls, []);
    assert.equal(again.engine.restartBudget().exhausted, true);
  });
  await t.step("policy bans stop at the cap", async () => {
    await using r = await rig({ max_ban_fraction: 0.02 }); // 2 of 100 connected peers
    const bans = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((cidr) => ({
      type: "ban",
      cidr,
      ttlMs: 60_000,
    }));
    await save(r.dir, "p.js", policy("degraded", bans));
    await r.engine.start();
    await r.engine.tick();
    assert.deepEqual(r.actuator.calls, ["ban 10.0.0.1", "ban 10.0.0.2"]);
    assert.equal(r.engine.decisions(1).decisions[0]!.actions[2]!.suppressedBy, "ban_cap");
  });
  // Issue 15, item 5: a policy's {type: "ban", cidr: "0.0.0.0/0"} ran and dropped every
  // reservation; the cap counted it as one ban.
  await t.step("the ban cap counts the addresses a CIDR covers, not bans", async () => {
    await using r = await rig({ max_ban_fraction: 0.1 }); // 10 of 100 connected peers
    const bans = ["10.0.0.0/29", "10.0.1.0/30", "10.0.2.1", "10.0.3.1", "203.0.113.0/24"].map((
      cidr,
    ) => ({ type: "ban", cidr, ttlMs: 60_000 }));
    await save(r.dir, "p.js", policy("degraded", bans));
    await r.engine.start();
    await r.engine.tick();
    // 8 addresses, then 4 more would be 12 > 10; two single addresses make 10; a /24 is 256.
    assert.deepEqual(r.actuator.calls, ["ban 10.0.0.0/29", "ban 10.0.2.1", "ban 10.0.3.1"]);
    const outcomes = r.engine.decisions(1).decisions[0]!.actions.map((a) => a.suppressedBy);
    assert.deepEqual(outcomes, [undefined, "ban_cap", undefined, undefined, "ban_cap"]);
  });
  await t.step(
    "a ban wider than limits.ban_prefix_min_v4/_v6 never runs from a policy",
    async () => {
      await using r = await rig({ max_ban_fraction: 1 });
      const bans = ["0.0.0.0/0", "127.0.0.0/8", "2001::/16"].map((cidr) => ({
        type: "ban",
        cidr,
        ttlMs: 60_000,
      }));
      await save(r.dir, "p.js", policy("degraded", bans));
      await r.engine.start();
      await r.engine.tick();
      assert.deepEqual(r.actuator.calls, []);
      const outcomes = r.engine.decisions(1).decisions[0]!.actions.map((a) => a.suppressedBy);
      assert.deepEqual(outcomes, ["ban_too_wide", "ban_too_wide", "ban_too_wide"]);
    },
  );
});

Deno.test("PolicyEngine counts failures and fails open or closed", async (t) => {
  for (const fail of ["open", "closed"] as const) {
    await t.step(fail, async () => {
      await using r = await rig({ fail, deadline: "20ms" });
      await save(r.dir, "p.js", policy("healthy", [], "if (s.tick > 1) for (;;) {}"));
      await r.engine.start();
      await r.engine.tick(); // tick 1 is fine
      await r.engine.tick(); // tick 2 loops until the deadline
      const [decision] = r.engine.decisions(1).decisions;
      assert.equal(decision!.errorKind, "timeout");
      assert.equal(
        await metricValue(r.registry, "hopd_policy_errors_total", { policy: "p", kind: "timeout" }),
        1,
      );
      assert.equal(r.engine.health().verdict, fail === "open" ? "healthy" : "unhealthy");
    });
  }
  await t.step("an invalid result and a failing action are recorded, not thrown", async () => {
    await using r = await rig();
    await save(
      r.dir,
      "bad.js",
      `export function evaluate(s) {
      return s.tick > 1 ? { verdict: "fine" } : { verdict: "healthy", reasons: [], actions: [] }; }`,
    );
    await save(
      r.dir,
      "limit.js",
      policy("healthy", [{ type: "setLimit", key: "bogus", value: 1 }]),
    );
    await r.engine.start();
    await r.engine.tick();
    await r.engine.tick();
    const bad = r.engine.decisions(10, "bad").decisions[0]!;
    assert.equal(bad.errorKind, "invalid_result");
    assert.match(bad.error!, /verdict/);
    const limit = r.engine.decisions(1, "limit").decisions[0]!;
    assert.equal(limit.actions[0]!.suppressedBy, "error");
    assert.match(limit.actions[0]!.error!, /unknown limit key/);
  });
});

Deno.test("PolicyEngine keeps ctx.state across reloads and writes the decision log", async () => {
  await using r = await rig();
  const counter = (step: number) =>
    policy("healthy", [], `ctx.state.n = (ctx.state.n ?? 0) + ${step};`);
  await save(r.dir, "p.js", counter(1));
  await r.engine.start();
  await r.engine.tick();
  await r.engine.tick();
  const view = () => r.engine.policies().policies.find((p) => p.name === "p")!;
  const before = view().revision;
  await save(r.dir, "p.js", counter(10));
  await r.applied(() => view().revision !== before);
  await r.engine.tick();
  await r.engine.stop();
  const text = await Deno.readTextFile(join(r.dataDir, "decisions.ndjson"));
  const records = text.trim().split("\n").map((line) => JSON.parse(line));
  assert.equal(records.filter((x) => x.type === "snapshot").length, 3);
  assert.equal(records.filter((x) => x.type === "decision").length, 3);
  const state = JSON.parse(await Deno.readTextFile(join(r.dataDir, "policy_state.json")));
  assert.deepEqual(JSON.parse(state.states.p), { n: 12 });
});

Deno.test("PluginHost refuses a listed peer, and fails open or closed when a plugin breaks", async (t) => {
  for (const fail of ["open", "closed"] as const) {
    await t.step(fail, async () => {
      // The budget's timer on the host side never fires here: on a loaded machine the round
      // trip to the worker alone can outlast 30 ms, and the refusal below would then fail
      // open. The looping hook is still cut at 30 ms by the sandbox's own deadline in its
      // worker (an interrupt counted as a timeout), which is what fails open or closed.
      await using r = await rig({ plugin_fail: fail, plugin_budget: "30ms" }, undefined, {
        clock: new ManualClock(),
      });
      const plugins = join(r.dir, "..", "plugins");
      await Deno.mkdir(plugins);
      await save(
        plugins,
        "refuse.js",
        `export function onReservation(e) {
           return e.peer === "bad" ? { accept: false, reason: "listed" } : { accept: true }; }
         export function onCircuit(e) { for (;;) {} }`,
      );
      await r.engine.start();
      assert.equal(
        r.engine.plugins.list().find((p) => p.name === "refuse")?.state,
        "active",
      );
      assert.deepEqual(await r.engine.plugins.reservation({ peer: "good" }), { accept: true });
      assert.deepEqual(await r.engine.plugins.reservation({ peer: "bad" }), {
        accept: false,
        reason: "plugin:refuse: listed",
      });
      const circuit = await r.engine.plugins.circuit({ source: "a", target: "b" });
      assert.equal(circuit!.accept, fail === "open");
      assert.equal(r.engine.plugins.score([1, 2], {}), undefined); // no plugin scores
    });
  }
});

// Issue 15, item 4: the hostile policies that once took the host's call wrapper. Sorted
// first, they ran before every other policy; one broke every tick, the other flooded the
// decision log (rotated every tick) and /v1/decisions (180 MB).
const HOSTILE: Record<string, string> = {
  "a malformed tuple": `
    globalThis.__hopdCall = () => JSON.stringify([{ verdict: "healthy" }, {}, null]);
    export function evaluate() { return { verdict: "healthy" }; }`,
  "3,000 log lines of 2,000 characters per decision": `
    const line = "x".repeat(2000);
    globalThis.__hopdCall = () => JSON.stringify([{ verdict: "healthy" }, {},
      Array.from({ length: 3000 }, () => line)]);
    export function evaluate() {
      for (let i = 0; i < 3000; i++) console.log(line);
      return { verdict: "healthy" };
    }`,
};

Deno.test("PolicyEngine: a hostile policy never stops the others, and what it outputs is bounded", async (t) => {
  for (const [name, hostile] of Object.entries(HOSTILE)) {
    await t.step(name, async () => {
      // A deadline no loaded machine reaches: this is about bounds, not time.
      await using r = await rig({ deadline: "5s" });
      await save(r.dir, "a_hostile.js", hostile);
      await save(r.dir, "b_good.js", policy("degraded"));
      await r.engine.start();
      const view = (policy: string) => r.engine.policies().policies.find((p) => p.name === policy)!;
      assert.equal(view("a_hostile").state, "active");
      assert.equal(view("b_good").state, "active");
      for (let tick = 0; tick < 3; tick++) await r.engine.tick();
      // The policy sorted after the hostile one ran every tick, and its verdict counts.
      assert.equal(view("b_good").evaluations, 3);
      assert.equal(view("b_good").lastVerdict, "degraded");
      assert.equal(r.engine.health().verdict, "degraded");
      assert.equal(await metricValue(r.registry, "hopd_health_status", {}), 1);
      assert.equal(r.engine.decisions(10, "b_good").decisions.length, 3);
      // What the hostile one produced entered the host bounded.
      const page = r.engine.decisions(500);
      for (const decision of page.decisions) {
        assert.ok((decision.logs ?? []).length <= 20, `${decision.logs?.length} log lines`);
        for (const line of decision.logs ?? []) assert.ok(line.length <= 1_000);
      }
      assert.ok(JSON.stringify(page).length < 4 * 1024 * 1024);
      await r.engine.stop();
      const logFile = await Deno.stat(join(r.dataDir, "decisions.ndjson"));
      assert.ok(logFile.size < 1024 * 1024, `decisions.ndjson is ${logFile.size} bytes`);
      await assert.rejects(Deno.stat(join(r.dataDir, "decisions.ndjson.1")));
    });
  }
});

Deno.test("PolicyEngine logs each verdict change once, as it happens, and records it", async () => {
  const records: LogRecord[] = [];
  configureSync({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [{ category: ["hopd", "policy"], lowestLevel: "info", sinks: ["memory"] }],
  });
  try {
    await using r = await rig({ hysteresis_for: 2, hysteresis_of: 3 });
    // Unhealthy while the snapshot shows a ban, which the test sets and clears.
    await save(
      r.dir,
      "mem.js",
      `export function evaluate(s) {
        return s.limiter.bans > 0
          ? { verdict: "unhealthy", reasons: ["rss 3 GiB"] }
          : { verdict: "healthy" };
      }`,
    );
    await r.engine.start();
    const changes = () =>
      records.filter((record) => String(record.rawMessage).startsWith("Policy {policy} verdict"))
        .map((record) => {
          const { from, to, effect, reasons } = record.properties;
          return `${record.level} ${from}→${to} ${effect} ${JSON.stringify(reasons)}`;
        });
    const verdictChanges = () =>
      r.engine.decisions(20, "mem").decisions.map((d) => d.verdictChange).reverse();

    await r.engine.tick(); // healthy: nothing to tell
    r.snapshot.value = { limiter: { ...exampleSnapshot().limiter, bans: 1 } };
    await r.engine.tick(); // unhealthy asked, not yet sustained: degraded
    await r.engine.tick(); // sustained: unhealthy, /ready 503
    await r.engine.tick(); // still unhealthy: no new line
    r.snapshot.value = {};
    await r.engine.tick(); // back
    await r.engine.tick();
    assert.deepEqual(changes(), [
      'warning healthy→degraded /ready does not change for a degraded verdict ["rss 3 GiB"]',
      'warning degraded→unhealthy /ready answers 503: the node is out of rotation ["rss 3 GiB"]',
      "info unhealthy→healthy it no longer keeps /ready at 503 []",
    ]);
    assert.deepEqual(verdictChanges(), [
      undefined,
      { from: "healthy", to: "degraded" },
      { from: "degraded", to: "unhealthy" },
      undefined,
      { from: "unhealthy", to: "healthy" },
      undefined,
    ]);
    const notable = r.engine.decisions(20, undefined, true).decisions;
    assert.deepEqual(notable.map((d) => d.verdictChange?.to), ["healthy", "unhealthy", "degraded"]);
  } finally {
    resetSync();
  }
});

Deno.test("PolicyEngine logs each evaluation and each tick at debug, a dryrun action at info, a held-back one at debug", async () => {
  const lines: string[] = [];
  let engine: PolicyEngine | undefined;
  let revisions = new Map<string, string>();
  configureSync({
    reset: true,
    sinks: {
      memory: (record) => {
        const p = record.properties;
        const message = String(record.rawMessage);
        if (message.startsWith("Policy {policy} evaluation")) {
          lines.push(
            `${record.level} ${p.policy}#${p.evaluations} tick ${p.tick} ${p.verdict}/${p.effectiveVerdict} ` +
              `rev ${p.revision === revisions.get(String(p.policy)) ? "current" : p.revision} ` +
              `executed ${p.executed} dryrun ${p.dryrun} warned ${p.warned} ` +
              `suppressed ${JSON.stringify(p.suppressed)} ${JSON.stringify(p.actions)}`,
          );
        } else if (message.startsWith("Policy tick")) {
          // Logged once the tick's decisions are written: /v1/decisions has them.
          const written = engine!.decisions(10).decisions.filter((d) => d.tick === p.tick).length;
          lines.push(
            `${record.level} tick ${p.tick} ${p.policies} policies ${p.health}, ${written} written`,
          );
        } else if (!message.includes("verdict")) {
          lines.push(
            `${record.level} ${message} ${p.policy} ${p.action} ${p.suppressedBy ?? ""}`.trim(),
          );
        }
      },
    },
    loggers: [
      { category: ["hopd", "policy"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    await using r = await rig({ cooldown: "1h", modes: ["dry=dryrun"] });
    engine = r.engine;
    await save(
      r.dir,
      "act.js",
      policy("degraded", [{ type: "throttle", factor: 0.5, forMs: 1000 }]),
    );
    await save(r.dir, "dry.js", policy("unhealthy", [{ type: "drain" }]));
    await r.engine.start();
    revisions = new Map(r.engine.policies().policies.map((p) => [p.name, p.revision]));
    lines.length = 0; // the loads' lines
    await r.engine.tick();
    await r.engine.tick(); // the cooldown holds both actions back
    const throttle = JSON.stringify({ type: "throttle", factor: 0.5, forMs: 1000 });
    const drain = JSON.stringify({ type: "drain" });
    assert.deepEqual(lines, [
      `info Policy {policy} ran {action} act ${throttle}`,
      'debug act#1 tick 1 degraded/degraded rev current executed throttle dryrun  warned  suppressed [] ["throttle executed"]',
      `info Policy {policy} (dryrun mode) would run {action} dry ${drain}`,
      'debug dry#1 tick 1 unhealthy/unhealthy rev current executed  dryrun drain warned  suppressed [] ["drain dryrun"]',
      "debug tick 1 2 policies degraded, 2 written",
      `debug Policy {policy} held back {action}: {suppressedBy} act ${throttle} cooldown`,
      'debug act#2 tick 2 degraded/degraded rev current executed  dryrun  warned  suppressed [{"type":"throttle","by":"cooldown"}] ["throttle suppressed (cooldown)"]',
      `debug Policy {policy} held back {action}: {suppressedBy} dry ${drain} cooldown`,
      'debug dry#2 tick 2 unhealthy/unhealthy rev current executed  dryrun  warned  suppressed [{"type":"drain","by":"cooldown"}] ["drain suppressed (cooldown)"]',
      "debug tick 2 2 policies degraded, 2 written",
    ]);
  } finally {
    resetSync();
  }
});

Deno.test("PolicyEngine's notable decisions keep actions and verdict changes, not quiet ticks", async () => {
  await using r = await rig({ cooldown: "1h" });
  await save(
    r.dir,
    "quiet.js",
    `export function evaluate() { return { verdict: "healthy" }; }`,
  );
  await save(r.dir, "act.js", policy("healthy", [{ type: "throttle", factor: 0.5, forMs: 1000 }]));
  await r.engine.start();
  for (let i = 0; i < 4; i++) await r.engine.tick();
  const all = r.engine.decisions(50).decisions;
  assert.equal(all.length, 8);
  const notable = r.engine.decisions(50, undefined, true).decisions;
  // The throttle ran once; the cooldown held it back three times (not notable), and the
  // quiet policy never acted nor changed its verdict.
  assert.deepEqual(
    notable.map((d) => `${d.policy}:${d.actions.map((a) => a.outcome).join(",")}`),
    ["act:executed"],
  );
});

// Issue 15, item 4: GET /v1/decisions?limit=500 answered 180 MB. Each evaluation's logs are
// capped in the sandbox (20 lines of 1,000 characters); a page of them is capped here.
Deno.test("PolicyEngine.decisions() answers at most DECISIONS_RESPONSE_MAX_BYTES of JSON, newest first, saying truncated", async () => {
  await using r = await rig({ deadline: "5s" });
  await save(
    r.dir,
    "chatty.js",
    policy("healthy", [], `for (let i = 0; i < 50; i++) ctx.log("x".repeat(5000));`),
  );
  await r.engine.start();
  // ~20 KB per decision after the sandbox's cut: 220 of them are past 4 MiB.
  const ticks = Math.ceil(DECISIONS_RESPONSE_MAX_BYTES / 19_000);
  for (let tick = 0; tick < ticks; tick++) await r.engine.tick();
  const page = r.engine.decisions(500);
  assert.equal(page.truncated, true);
  assert.ok(JSON.stringify(page).length <= DECISIONS_RESPONSE_MAX_BYTES + 1_000);
  assert.ok(page.decisions.length < ticks);
  assert.equal(page.decisions[0]!.tick, ticks);
  const one = page.decisions[0]!;
  assert.equal(one.logs!.length, 20);
  assert.equal(one.logs![0]!.length, 1_000);
});

Deno.test("PolicyEngine tells onFirstTick once, when its first tick is done (the daemon trims memory there)", async () => {
  let told = 0;
  let evaluationsWhenTold = -1;
  await using r = await rig({}, undefined, {
    onFirstTick: () => {
      told++;
      evaluationsWhenTold = r.engine.policies().policies[0]!.evaluations;
    },
  });
  await save(r.dir, "p.js", policy("healthy"));
  await r.engine.start();
  assert.equal(told, 0, "told before any tick");
  await r.engine.tick();
  assert.equal(told, 1);
  assert.equal(evaluationsWhenTold, 1, "told before the tick's evaluation was done");
  await r.engine.tick();
  assert.equal(told, 1, "told again");
});
