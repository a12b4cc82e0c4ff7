// Issue 5 figure: relay throughput unchanged (within noise) while 10 policies run every
// second. hopd relays a one-way bulk stream through one circuit (bench/relay_vs_stock's
// throughput worker: stock js-libp2p clients in their own process, so their CPU is not
// counted) in two configurations, alternated A/B/A/B… on fresh processes:
//
//   A  policy.enabled = false
//   B  10 policies (the five shipped ones and a copy of each under another name, with their
//      fixtures) in a temp dir, policy.tick = 1s, no plugins
//
// Both run with every limit off (as bench/relay_vs_stock). Per round: start hopd, reserve and
// dial, relay a 32 MiB warm-up, measure hopd's CPU for 4 s idle, then relay --mib MiB timed
// by the receiver, with hopd's CPU (utime + stime of its pid, all threads, so the sandbox
// worker too) over the transfer. In B, the policy evaluations during the transfer are read
// from /metrics, and every evaluation's in-sandbox time (the engine's durationMs) from
// <data_dir>/decisions.ndjson, split into the idle window and the transfer.
//
//   deno run -A bench/policy_relay_throughput.ts [--rounds 4] [--mib 512]
//
// Prints one JSON document (also written to bench/.out/policy_relay_throughput.json).

import { parseDecisionLog } from "../src/policy/mod.ts";
import { startWorker } from "./relay_vs_stock/_children.ts";
import { cpuSeconds, median, percentile, rssKib, scrape } from "./relay_vs_stock/_proc.ts";
import { startBenchHopd, writeShippedPolicies } from "./policy/_hopd.ts";

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const IDLE_MS = 4_000;

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}

function log(message: string): void {
  console.error(`[policy_relay_throughput ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Sum of the samples of `name` whose label text contains `labels`. */
function sampleSum(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!line.slice(0, line.lastIndexOf(" ")).includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

type Config = "A" | "B";

interface Round {
  config: Config;
  mibPerSecond: number;
  cpuSecondsPerGib: number;
  idleCpuPercent: number;
  /** RSS at the end of the idle window (after the warm-up) and after the transfer. */
  rssMibIdle: number;
  rssMib: number;
  evaluationsDuringTransfer?: number;
  evaluationErrorsDuringTransfer?: number;
  transferSeconds: number;
}

const rounds = arg("rounds", 4);
const bytes = arg("mib", 512) * MIB;
const policyDir = await Deno.makeTempDir({ prefix: "hopd-policy-throughput-" });
const policies = await writeShippedPolicies(policyDir, 1);
const ENV: Record<Config, Record<string, string>> = {
  A: { HOPD_POLICY_ENABLED: "false" },
  B: {
    HOPD_POLICY_DIR: policyDir,
    HOPD_POLICY_PLUGINS_DIR: `${policyDir}/no-plugins`,
    HOPD_POLICY_TICK: "1s",
  },
};
const results: Round[] = [];
// In-sandbox time of every evaluation (the engine's durationMs), by what hopd was doing.
const evaluationMs = { idle: [] as number[], transfer: [] as number[] };
const startedAt = performance.now();

async function runRound(config: Config): Promise<Round> {
  const hopd = await startBenchHopd(ENV[config]);
  const worker = startWorker("throughput", hopd.tcpAddr);
  try {
    if (config === "B") {
      await hopd.waitForLog((r) => String(r.message).startsWith("Policy engine started"), 60_000);
    }
    await worker.next((m) => m.ready === true, 60_000);
    await worker.send({ go: 32 * MIB });
    await worker.next((m) => m.done === true, 120_000);

    const idleBefore = await cpuSeconds(hopd.pid);
    const idleFrom = Date.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleCpu = (await cpuSeconds(hopd.pid)) - idleBefore;
    const idleTo = Date.now();
    const rssIdle = await rssKib(hopd.pid);

    const metricsUrl = `${hopd.opsUrl}/metrics`;
    const before = await scrape(metricsUrl);
    const cpuBefore = await cpuSeconds(hopd.pid);
    const transferFrom = Date.now();
    await worker.send({ go: bytes });
    const done = await worker.next((m) => m.done === true, 300_000);
    const cpu = (await cpuSeconds(hopd.pid)) - cpuBefore;
    const transferTo = Date.now();
    const rss = await rssKib(hopd.pid);
    const after = await scrape(metricsUrl);
    const seconds = Number(done.elapsedMs) / 1000;
    const measured: Round = {
      config,
      mibPerSecond: round(bytes / MIB / seconds, 1),
      cpuSecondsPerGib: round(cpu / (bytes / GIB), 3),
      idleCpuPercent: round(idleCpu / (IDLE_MS / 1000) * 100, 1),
      rssMibIdle: round(rssIdle / 1024, 1),
      rssMib: round(rss / 1024, 1),
      transferSeconds: round(seconds, 2),
    };
    if (config === "B") {
      const evaluations = (text: string, result: string) =>
        sampleSum(text, "hopd_policy_evaluations_total", `result="${result}"`);
      measured.evaluationsDuringTransfer = evaluations(after, "ok") - evaluations(before, "ok");
      measured.evaluationErrorsDuringTransfer = evaluations(after, "error") -
        evaluations(before, "error");
      const text = await Deno.readTextFile(`${hopd.dataDir}/decisions.ndjson`);
      for (const d of parseDecisionLog(text).decisions) {
        const at = Date.parse(d.time);
        if (at >= idleFrom && at <= idleTo) evaluationMs.idle.push(d.durationMs);
        if (at >= transferFrom && at <= transferTo) evaluationMs.transfer.push(d.durationMs);
      }
    }
    return measured;
  } finally {
    await worker.stop();
    await hopd.stop();
  }
}

try {
  for (let r = 0; r < rounds; r++) {
    for (const config of ["A", "B"] as const) {
      const result = await runRound(config);
      results.push(result);
      log(
        `round ${r + 1} ${config}: ${result.mibPerSecond} MiB/s, ` +
          `${result.cpuSecondsPerGib} CPU-s/GiB, idle ${result.idleCpuPercent}% CPU` +
          (config === "B" ? `, ${result.evaluationsDuringTransfer} evaluations` : ""),
      );
    }
  }
} finally {
  await Deno.remove(policyDir, { recursive: true });
}

function summary(config: Config) {
  const rs = results.filter((r) => r.config === config);
  const pick = (f: (r: Round) => number) => {
    const xs = rs.map(f);
    return {
      median: round(median(xs), 3),
      min: round(Math.min(...xs), 3),
      max: round(Math.max(...xs), 3),
      runs: xs,
    };
  };
  return {
    mibPerSecond: pick((r) => r.mibPerSecond),
    cpuSecondsPerGib: pick((r) => r.cpuSecondsPerGib),
    idleCpuPercent: pick((r) => r.idleCpuPercent),
    rssMibIdle: pick((r) => r.rssMibIdle),
    rssMib: pick((r) => r.rssMib),
  };
}
function quantiles(xs: number[]) {
  return {
    n: xs.length,
    median: round(percentile(xs, 50), 3),
    p99: round(percentile(xs, 99), 3),
    max: round(Math.max(...xs), 3),
  };
}
const a = summary("A");
const b = summary("B");
const result = {
  bench: "policy_relay_throughput",
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  rounds,
  mibPerTransfer: bytes / MIB,
  configurations: {
    A: "policy.enabled = false",
    B: `${policies.length} policies (${policies.join(", ")}), policy.tick = 1s`,
  },
  A: a,
  B: b,
  bOverA: {
    mibPerSecond: round(b.mibPerSecond.median / a.mibPerSecond.median, 3),
    cpuSecondsPerGib: round(b.cpuSecondsPerGib.median / a.cpuSecondsPerGib.median, 3),
  },
  // Whether the two ranges overlap: a difference inside the spread is not a signal.
  rangesOverlap: {
    mibPerSecond: b.mibPerSecond.max >= a.mibPerSecond.min &&
      a.mibPerSecond.max >= b.mibPerSecond.min,
    cpuSecondsPerGib: b.cpuSecondsPerGib.max >= a.cpuSecondsPerGib.min &&
      a.cpuSecondsPerGib.max >= b.cpuSecondsPerGib.min,
  },
  evaluationsInB: {
    during: results.filter((r) => r.config === "B").map((r) => r.evaluationsDuringTransfer),
    errors: results.filter((r) => r.config === "B").map((r) => r.evaluationErrorsDuringTransfer),
    inSandboxMsIdle: quantiles(evaluationMs.idle),
    inSandboxMsDuringTransfer: quantiles(evaluationMs.transfer),
  },
  loadAverageAtEnd: Deno.loadavg().map((l) => round(l)),
  wallSeconds: round((performance.now() - startedAt) / 1000, 1),
  goal: "throughput with 10 policies at a 1 s tick unchanged within noise",
  roundsDetail: results,
};
const json = JSON.stringify(result, null, 2);
await Deno.mkdir(new URL("./.out/", import.meta.url), { recursive: true });
await Deno.writeTextFile(
  new URL("./.out/policy_relay_throughput.json", import.meta.url),
  json + "\n",
);
console.log(json);
