// Policy evaluation cost (issue 5: median ≤ 100 µs per policy with a real snapshot), for each
// shipped policy in policies/:
//
// - "in sandbox": `Sandbox.call("evaluate")` directly, on this thread: strings into QuickJS,
//   JSON.parse of the snapshot inside, evaluate(), JSON.stringify of the result, back out and
//   parsed. This is the evaluation itself (the engine's `durationMs` and
//   hopd_policy_evaluation_seconds measure the same call minus the final parse).
// - "worker round trip": what the engine does per policy per tick, `evaluatePolicy()` through a
//   `SandboxWorker` (postMessage both ways, the worker's history ring, the host's zod check of
//   the result).
//
// Two snapshots: "captured" is a real one (bench/policy/snapshot.json, recorded from a running
// hopd's decision log while it relayed a bulk stream; recapture with
// bench/policy/capture_snapshot.ts), with its ticks before it as ctx.history; "alarm" is the
// same snapshot with every policy's trigger set (abuse spike, slow setups, lost federation,
// high memory, sustained load, five top talkers), so each takes its action path.
//
//   deno bench -A bench/policy_eval_bench.ts
//
// A "breakdown" group splits the in-sandbox time into the call itself, parsing the snapshot
// and parsing ctx.history(4).
//
// Deno.bench prints avg/p75/p99 per group (baseline: in sandbox). Each call is also timed on
// its own; at the end the median and p99 of every case are printed as JSON (and written to
// bench/.out/policy_eval_bench.json), since Deno.bench has no median.

import { defaultConfig } from "../src/config/mod.ts";
import { evaluatePolicy, mergeSnapshot, SandboxWorker } from "../src/policy/mod.ts";
import { type CallInput, Sandbox } from "../src/policy/sandbox.ts";
import { percentile } from "./relay_vs_stock/_proc.ts";
import { shippedPolicyNames, shippedPolicyPath } from "./policy/_hopd.ts";

const GOAL_MEDIAN_US = 100;
// The engine's defaults (policy.deadline, memory_limit, stack_limit).
const LIMITS = {
  memoryLimitBytes: 32 * 1024 ** 2,
  stackLimitBytes: 512 * 1024,
  deadlineMs: 50,
  outputMaxChars: 576 * 1024,
};
// Calls of each case not kept in the samples (JIT and wasm tier-up).
const WARMUP_CALLS = 200;

interface Captured {
  readonly snapshot: Record<string, unknown>;
  readonly history: Record<string, unknown>[];
}
const captured = JSON.parse(
  await Deno.readTextFile(new URL("./policy/snapshot.json", import.meta.url)),
) as Captured;

const GIB = 1024 ** 3;
const busyTick = { relay: { reservations: 15_000 } };
const alarmPatch = {
  process: { rssBytes: 1.6 * GIB },
  relay: {
    reservations: 15_000,
    setupLatencyMs: { p50: 40, p99: 400, count: 200 },
    refusals: { reservation_limit: 300, circuit_limit: 120 },
  },
  limiter: {
    rejections: { "connection.rate_ip": 4_000, "reservation.rate_peer": 900 },
    topTalkers: Array.from({ length: 5 }, (_, i) => ({
      peer: `12D3KooWLXkV7FWMJCLaXrqyUquNSz5tJELZViT5oimoMRPCU4F${i}`,
      bytes: 150_000_000 - i * 10_000_000,
    })),
  },
  federation: { members: { alive: 1, suspect: 1, dead: 2 }, connectedMembers: 0 },
};
const SNAPSHOTS = {
  captured: { snapshot: captured.snapshot, history: captured.history },
  alarm: {
    snapshot: mergeSnapshot(captured.snapshot, alarmPatch) as Record<string, unknown>,
    history: captured.history.map((h) => mergeSnapshot(h, busyTick) as Record<string, unknown>),
  },
};
type SnapshotName = keyof typeof SNAPSHOTS;

const names = await shippedPolicyNames();
const sources = new Map<string, string>();
for (const name of names) sources.set(name, await Deno.readTextFile(shippedPolicyPath(name)));

// One worker per snapshot, each with every policy loaded and that snapshot's ticks in its
// history ring (ctx.history() reads the ring, as in the engine).
const workers = new Map<SnapshotName, SandboxWorker>();
for (const which of Object.keys(SNAPSHOTS) as SnapshotName[]) {
  const worker = new SandboxWorker({ graceMs: defaultConfig().policy.killGraceMs });
  // Loads first, as the engine does: a pushHistory() that starts a fresh worker puts its
  // snapshot into the ring twice (see bench/RESULTS.md, policy engine notes).
  for (const name of names) {
    const loaded = await worker.load({
      name: name,
      fileName: `${name}.js`,
      source: sources.get(name)!,
      limits: LIMITS,
    });
    if (!loaded.ok) throw new Error(`${name}: ${loaded.message}`);
  }
  for (const h of [...SNAPSHOTS[which].history].reverse()) {
    await worker.pushHistory(JSON.stringify(h), 60);
  }
  workers.set(which, worker);
}

interface Samples {
  readonly policy: string;
  readonly snapshot: SnapshotName;
  readonly path: "in sandbox" | "worker round trip";
  readonly us: number[];
  /** The sandbox's own durationMs (what the engine records), in µs. */
  readonly reportedUs: number[];
  verdict?: string;
  actions?: number;
  calls: number;
}
const results: Samples[] = [];

for (const name of names) {
  const sandbox = await Sandbox.create(`${name}.js`, sources.get(name)!, LIMITS);
  if (!(sandbox instanceof Sandbox)) throw new Error(`${name}: ${sandbox.message}`);
  for (const which of Object.keys(SNAPSHOTS) as SnapshotName[]) {
    const { snapshot, history } = SNAPSHOTS[which];
    const snapshotJson = JSON.stringify(snapshot);
    const nowMs = snapshot.now as number;
    // ctx.history(n) as the engine answers it: the sandbox's own ring of the snapshots it
    // judged (seeded here with the captured ticks), each evaluated snapshot joining it.
    sandbox.seedHistory(JSON.stringify(history), 60);
    const input: CallInput = {
      fn: "evaluate",
      argsJson: `[${snapshotJson}]`,
      stateJson: "{}",
      nowMs,
      seed: 1,
      history: "own",
    };
    const direct: Samples = {
      policy: name,
      snapshot: which,
      path: "in sandbox",
      us: [],
      reportedUs: [],
      calls: 0,
    };
    const trip: Samples = { ...direct, path: "worker round trip", us: [], reportedUs: [] };
    results.push(direct, trip);
    const worker = workers.get(which)!;

    Deno.bench({
      name: `${which}: in sandbox`,
      group: `${name} (${which})`,
      baseline: true,
      fn() {
        const started = performance.now();
        const outcome = sandbox.call(input);
        const us = (performance.now() - started) * 1000;
        if (!outcome.ok) throw new Error(`${name}: ${outcome.message}`);
        if (++direct.calls > WARMUP_CALLS) {
          direct.us.push(us);
          direct.reportedUs.push(outcome.durationMs * 1000);
        }
        const result = outcome.result as { verdict: string; actions: unknown[] };
        direct.verdict = result.verdict;
        direct.actions = result.actions.length;
      },
    });
    Deno.bench({
      name: `${which}: worker round trip`,
      group: `${name} (${which})`,
      async fn() {
        const started = performance.now();
        const evaluated = await evaluatePolicy(worker, {
          sandbox: name,
          limits: LIMITS,
          nowMs,
          snapshotJson,
          stateJson: "{}",
          seed: 1,
        });
        const us = (performance.now() - started) * 1000;
        if (!evaluated.ok) throw new Error(`${name}: ${evaluated.message}`);
        if (++trip.calls > WARMUP_CALLS) {
          trip.us.push(us);
          trip.reportedUs.push(evaluated.durationMs * 1000);
        }
        trip.verdict = evaluated.result.verdict;
        trip.actions = evaluated.result.actions.length;
      },
    });
  }
}

// Where the time goes: one sandbox whose exports do nothing, parse the snapshot argument only,
// or also read ctx.history(4) (what scale_up_on_load does), with the captured snapshot.
const PARTS = `export function noop() { return null; }
export function snapshotOnly(snapshot) { return snapshot.tick; }
export function withHistory(snapshot, ctx) { return ctx.history(4).length; }`;
const parts = await Sandbox.create("breakdown.js", PARTS, LIMITS);
if (!(parts instanceof Sandbox)) throw new Error(parts.message);
{
  const snapshotJson = JSON.stringify(captured.snapshot);
  const historyJson = captured.history.map((h) => JSON.stringify(h));
  const base = {
    stateJson: "{}",
    nowMs: captured.snapshot.now as number,
    seed: 1,
    history: (n: number) => `[${historyJson.slice(0, n < 0 ? undefined : n).join(",")}]`,
  };
  const part = (name: string, fn: string, argsJson: string, baseline = false) =>
    Deno.bench({
      name,
      group: "breakdown (captured snapshot)",
      baseline,
      fn() {
        const outcome = parts.call({ ...base, fn, argsJson });
        if (!outcome.ok) throw new Error(outcome.message);
      },
    });
  part("call, no argument", "noop", "[]", true);
  part("call, snapshot parsed", "snapshotOnly", `[${snapshotJson}]`);
  part("call, snapshot + ctx.history(4) parsed", "withHistory", `[${snapshotJson}]`);
}

const round = (x: number) => Math.round(x * 10) / 10;

globalThis.addEventListener("unload", () => {
  for (const worker of workers.values()) worker.close();
  const cases = results.filter((r) => r.us.length > 0).map((r) => ({
    policy: r.policy,
    snapshot: r.snapshot,
    path: r.path,
    verdict: r.verdict,
    actions: r.actions,
    samples: r.us.length,
    medianUs: round(percentile(r.us, 50)),
    p99Us: round(percentile(r.us, 99)),
    sandboxReportedMedianUs: round(percentile(r.reportedUs, 50)),
    sandboxReportedP99Us: round(percentile(r.reportedUs, 99)),
  }));
  // Undefined (null) when --filter left no in-sandbox case of the captured snapshot.
  const capturedInSandbox = cases.filter((c) =>
    c.path === "in sandbox" && c.snapshot === "captured"
  );
  const out = {
    bench: "policy_eval_bench",
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    snapshotBytes: {
      captured: JSON.stringify(SNAPSHOTS.captured.snapshot).length,
      alarm: JSON.stringify(SNAPSHOTS.alarm.snapshot).length,
    },
    loadAverageAtEnd: Deno.loadavg(),
    goal: `in-sandbox evaluation median <= ${GOAL_MEDIAN_US} µs per policy (captured snapshot)`,
    meets: capturedInSandbox.length === 0
      ? null
      : capturedInSandbox.every((c) => c.medianUs <= GOAL_MEDIAN_US),
    cases,
  };
  const json = JSON.stringify(out, null, 2);
  Deno.mkdirSync(new URL("./.out/", import.meta.url), { recursive: true });
  Deno.writeTextFileSync(new URL("./.out/policy_eval_bench.json", import.meta.url), json + "\n");
  console.log(`\n${json}`);
});
