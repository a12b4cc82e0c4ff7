// Issue 5 figure: a saved policy is live ≤ 500 ms after the save.
//
// hopd runs with a temp policy dir holding the five shipped policies and their fixtures
// (HOPD_POLICY_DIR; tick HOPD_POLICY_TICK, 200 ms by default, so evaluations interleave with
// the reloads). Each run rewrites one policy the way editors save: a temp file in the same
// directory renamed over the original, with a new comment line so the revision (sha256 of the
// source) changes. Policies are taken in turn; runs are 300–500 ms apart (a random phase
// against the tick).
//
// "Live" is what an operator sees: GET /v1/policies showing the new revision when the ops
// server has that route (polled every 10 ms), and otherwise hopd's log line "Loaded policy
// <name> revision <12 hex> in <ms> ms", timed when it reaches this process on stderr. Both are
// reported when both exist. The first tick evaluated by the new revision is read from
// <data_dir>/decisions.ndjson afterwards (its snapshot time, so bounded by the tick).
//
//   deno run -A bench/policy_reload.ts [--runs 20] [--tick 200ms]
//
// Prints one JSON document (also written to bench/.out/policy_reload.json).

import { parseDecisionLog } from "../src/policy/mod.ts";
import { percentile, summarize } from "./relay_vs_stock/_proc.ts";
import {
  type BenchHopd,
  propsOf,
  shippedPolicyPath,
  startBenchHopd,
  writeShippedPolicies,
} from "./policy/_hopd.ts";

const GOAL_MS = 500;
const POLL_MS = 10;

function arg(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Deno.args[at + 1]! : fallback;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const stats = (values: number[]) => summarize(values, 1);

/** The revision of `name` in GET /v1/policies, or undefined when the route is absent. */
async function listedRevision(hopd: BenchHopd, name: string): Promise<string | undefined> {
  const response = await fetch(`${hopd.opsUrl}/v1/policies`);
  if (!response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  const body = await response.json() as { policies?: { name: string; revision: string }[] };
  return body.policies?.find((p) => p.name === name)?.revision;
}

const runs = Number(arg("runs", "20"));
const tick = arg("tick", "200ms");
const dir = await Deno.makeTempDir({ prefix: "hopd-policy-reload-" });
const names = await writeShippedPolicies(dir);
const hopd = await startBenchHopd({
  HOPD_POLICY_DIR: dir,
  HOPD_POLICY_PLUGINS_DIR: `${dir}/no-plugins`,
  HOPD_POLICY_TICK: tick,
});

interface Run {
  policy: string;
  revision: string;
  savedAtEpochMs: number;
  logMs: number;
  hopdPrepareMs: number;
  listedMs?: number;
}
const done: Run[] = [];
let hasRoute = false;
let decisionsText = "";
try {
  await hopd.waitForLog((r) => String(r.message).startsWith("Policy engine started"), 60_000);
  hasRoute = (await listedRevision(hopd, names[0]!)) !== undefined;
  for (let i = 0; i < runs; i++) {
    const name = names[i % names.length]!;
    const source = await Deno.readTextFile(shippedPolicyPath(name)) +
      `\n// bench revision ${i} ${crypto.randomUUID()}\n`;
    const revision = await sha256Hex(source);
    const temp = `${dir}/.${name}.js.${i}.tmp`;
    await Deno.writeTextFile(temp, source);
    const logFrom = hopd.logs.length;
    const savedAtEpochMs = Date.now();
    await Deno.rename(temp, `${dir}/${name}.js`);
    const saved = performance.now();
    const loaded = hopd.waitForLog(
      (r) => {
        const p = propsOf(r);
        return p.name === name && p.revision === revision.slice(0, 12);
      },
      10_000,
      logFrom,
    );
    let listedMs: number | undefined;
    if (hasRoute) {
      while ((await listedRevision(hopd, name)) !== revision) {
        if (performance.now() - saved > 10_000) throw new Error(`${name} never listed`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      listedMs = performance.now() - saved;
    }
    const line = await loaded;
    done.push({
      policy: name,
      revision,
      savedAtEpochMs,
      logMs: line.arrivedAt - saved,
      hopdPrepareMs: Number(propsOf(line.record).ms),
      ...(listedMs === undefined ? {} : { listedMs }),
    });
    await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 200));
  }
  // Let the last revision be evaluated and its record written.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  decisionsText = await Deno.readTextFile(`${hopd.dataDir}/decisions.ndjson`);
} finally {
  await hopd.stop();
  await Deno.remove(dir, { recursive: true });
}

// First decision of each new revision: its tick's snapshot time minus the save.
const { decisions } = parseDecisionLog(decisionsText);
const firstEvaluated = done.map((run) => {
  const first = decisions.find((d) => d.revision === run.revision);
  return first === undefined ? NaN : Date.parse(first.time) - run.savedAtEpochMs;
}).filter((x) => Number.isFinite(x));

const live = done.map((r) => r.listedMs ?? r.logMs);
const result = {
  bench: "policy_reload",
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  runs,
  tick,
  policies: names,
  observable: hasRoute
    ? "GET /v1/policies lists the new revision (polled every 10 ms)"
    : "log line 'Loaded policy <name> revision <rev>' on stderr (GET /v1/policies absent)",
  saveToLiveMs: stats(live),
  saveToLogLineMs: stats(done.map((r) => r.logMs)),
  saveToListedMs: hasRoute ? stats(done.map((r) => r.listedMs!)) : null,
  hopdPrepareMs: stats(done.map((r) => r.hopdPrepareMs)),
  saveToFirstEvaluationMs: stats(firstEvaluated),
  loadAverageAtEnd: Deno.loadavg(),
  goal: `save to live <= ${GOAL_MS} ms`,
  meets: percentile(live, 99) <= GOAL_MS,
  runsDetail: done.map((r) => ({
    policy: r.policy,
    logMs: Math.round(r.logMs),
    hopdPrepareMs: r.hopdPrepareMs,
    ...(r.listedMs === undefined ? {} : { listedMs: Math.round(r.listedMs) }),
  })),
};
const json = JSON.stringify(result, null, 2);
await Deno.mkdir(new URL("./.out/", import.meta.url), { recursive: true });
await Deno.writeTextFile(new URL("./.out/policy_reload.json", import.meta.url), json + "\n");
console.log(json);
