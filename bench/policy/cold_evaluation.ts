// In-sandbox evaluation time as hopd sees it: ten sandboxes (the five shipped policies, twice)
// in one SandboxWorker, each evaluated once per tick with the captured snapshot
// (bench/policy/snapshot.json) through evaluatePolicy(), as the engine does, with a pause of
// --tick-ms between ticks. Compare with bench/policy_eval_bench.ts, which calls one sandbox
// back to back (hot): a sandbox called once a second runs colder code (its own wasm module,
// rarely called, so V8 keeps it in the baseline tier) and colder caches.
//
//   deno run -A bench/policy/cold_evaluation.ts [--tick-ms 1000] [--ticks 15]
//   deno run -A --v8-flags=--no-liftoff bench/policy/cold_evaluation.ts   (optimizing tier only)
//
// Prints one JSON line: the sandbox-reported durationMs (what the decision log records) over
// every evaluation after the first 3 ticks.

import { defaultConfig } from "../../src/config/mod.ts";
import { evaluatePolicy, SandboxWorker } from "../../src/policy/mod.ts";
import { percentile } from "../relay_vs_stock/_proc.ts";
import { shippedPolicyNames, shippedPolicyPath } from "./_hopd.ts";

const LIMITS = {
  memoryLimitBytes: 32 * 1024 ** 2,
  stackLimitBytes: 512 * 1024,
  deadlineMs: 50,
  outputMaxChars: 576 * 1024,
};
const WARMUP_TICKS = 3;

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

const tickMs = arg("tick-ms", 1000);
const ticks = arg("ticks", 15);
const captured = JSON.parse(
  await Deno.readTextFile(new URL("./snapshot.json", import.meta.url)),
) as { snapshot: unknown; history: unknown[] };
const snapshotJson = JSON.stringify(captured.snapshot);
const worker = new SandboxWorker({ graceMs: defaultConfig().policy.killGraceMs });
const sandboxes: string[] = [];
for (const name of await shippedPolicyNames()) {
  const source = await Deno.readTextFile(shippedPolicyPath(name));
  for (const copy of ["a", "b"]) {
    const loaded = await worker.load({
      name: `${name}#${copy}`,
      fileName: `${name}.js`,
      source: source,
      limits: LIMITS,
    });
    if (!loaded.ok) throw new Error(`${name}: ${loaded.message}`);
    sandboxes.push(`${name}#${copy}`);
  }
}
for (const h of [...captured.history].reverse()) await worker.pushHistory(JSON.stringify(h), 60);

const us: number[] = [];
for (let tick = 0; tick < ticks; tick++) {
  for (const sandbox of sandboxes) {
    const evaluated = await evaluatePolicy(worker, {
      sandbox,
      limits: LIMITS,
      nowMs: Date.now(),
      snapshotJson,
      stateJson: "{}",
      seed: 1,
    });
    if (!evaluated.ok) throw new Error(`${sandbox}: ${evaluated.message}`);
    if (tick >= WARMUP_TICKS) us.push(evaluated.durationMs * 1000);
  }
  await worker.pushHistory(snapshotJson, 60);
  await new Promise((resolve) => setTimeout(resolve, tickMs));
}
worker.close();
const r = (x: number) => Math.round(x);
console.log(JSON.stringify({
  bench: "policy_cold_evaluation",
  date: new Date().toISOString(),
  tickMs,
  sandboxes: sandboxes.length,
  evaluations: us.length,
  inSandboxUs: {
    median: r(percentile(us, 50)),
    p90: r(percentile(us, 90)),
    p99: r(percentile(us, 99)),
  },
  loadAverageAtEnd: Deno.loadavg().map((l) => Math.round(l * 10) / 10),
}));
