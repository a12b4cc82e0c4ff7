// Load test of a hopd relay: N reservations held by stock js-libp2p clients, then M circuits
// per second through reserved echo targets for a duration, with hopd's RSS and CPU sampled
// throughout. Prints one JSON document (achieved numbers, errors, setup latency
// percentiles, RSS drift). Run through scripts/load_test.sh; the clients are the workers of
// bench/relay_vs_stock/client_worker.ts (reserve, targets and dialers modes).
//
//   deno run -A bench/load_test.ts [--reservations N] [--rate M] [--duration SECONDS]
//     [--targets T] [--settle SECONDS] [--sample SECONDS] [--ramp-concurrency C]
//     [--ramp-timeout SECONDS]
//     [--relay MULTIADDR --ops-url URL]
//
// By default it starts its own hopd on 127.0.0.1 with every limit off (as the relay bench
// does); --relay points it at a running node instead (RSS/CPU then come from that node's
// /metrics, and its limits apply). Bounded: loopback only, workers of ≤ 2,500 clients each
// (RLIMIT_NOFILE here is 20,000 per process), everything stopped at the end.

import {
  type LineChild,
  type RelayProcess,
  startHopd,
  startWorker,
} from "./relay_vs_stock/_children.ts";
import {
  cpuSeconds,
  histogramBuckets,
  histogramQuantile,
  percentile,
  rssKib,
  sampleValue,
  scrape,
} from "./relay_vs_stock/_proc.ts";

/** What a run does. */
export interface LoadPlan {
  reservations: number;
  ratePerSecond: number;
  durationSeconds: number;
  targets: number;
  settleSeconds: number;
  sampleSeconds: number;
  /** RESERVE attempts in flight per worker of 2,500 clients. */
  rampConcurrency: number;
  /** Most seconds the ramp may take; then it stops where it is (0 = no limit). */
  rampTimeoutSeconds: number;
  relay?: string;
  opsUrl?: string;
}

const RESERVATIONS_PER_WORKER = 2_500;
const DIALER_NODES = 4;
const MIB = 1024 * 1024;

function parseArgs(args: string[]): LoadPlan {
  const plan: LoadPlan = {
    reservations: 100,
    ratePerSecond: 5,
    durationSeconds: 30,
    targets: 10,
    settleSeconds: 5,
    sampleSeconds: 5,
    rampConcurrency: 20,
    rampTimeoutSeconds: 0,
  };
  const numbers: Record<string, keyof LoadPlan> = {
    "--reservations": "reservations",
    "--rate": "ratePerSecond",
    "--duration": "durationSeconds",
    "--targets": "targets",
    "--settle": "settleSeconds",
    "--sample": "sampleSeconds",
    "--ramp-concurrency": "rampConcurrency",
    "--ramp-timeout": "rampTimeoutSeconds",
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const value = args[i + 1];
    if (flag !== "--relay" && flag !== "--ops-url" && !(flag in numbers)) {
      throw new TypeError(`unknown flag '${flag}' (scripts/load_test.sh --help lists them)`);
    }
    if (value === undefined) throw new TypeError(`${flag} needs a value`);
    i++;
    if (flag === "--relay") plan.relay = value;
    else if (flag === "--ops-url") plan.opsUrl = value.replace(/\/$/, "");
    else if (flag in numbers) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) {
        throw new RangeError(`${flag} must be a number ≥ 0: current value is '${value}'`);
      }
      (plan as unknown as Record<string, number>)[numbers[flag]!] = n;
    } else throw new TypeError(`unknown flag '${flag}'`);
  }
  if (plan.targets < 1) throw new RangeError("--targets must be at least 1");
  if (plan.sampleSeconds <= 0) throw new RangeError("--sample must be above 0");
  if (plan.rampConcurrency < 1) throw new RangeError("--ramp-concurrency must be at least 1");
  if (plan.relay !== undefined && plan.opsUrl === undefined) {
    throw new TypeError("--relay needs --ops-url (hopd's ops server, for its metrics)");
  }
  return plan;
}

function log(message: string): void {
  console.error(`[load_test ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function round(value: number, digits = 1): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counters read from /metrics at the start and end of the circuit phase. */
async function relayCounters(metricsUrl: string) {
  const text = await scrape(metricsUrl);
  const sum = (name: string, labels: string[]) =>
    labels.reduce((total, l) => total + sampleValue(text, name, l), 0);
  const streamErrors = text.split("\n")
    .filter((l) => l.startsWith("hopd_relay_stream_errors_total{"))
    .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  const refusals = text.split("\n")
    .filter((l) => l.startsWith("hopd_refusals_total{"))
    .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  return {
    text,
    circuitsOk: sum("hopd_circuits_total", ['result="ok"']),
    circuitsFailed: sum("hopd_circuits_total", ['result="failed"']),
    reservationsFailed: sum("hopd_reservations_total", ['result="failed"']),
    streamErrors,
    refusals,
    reservationsActive: sampleValue(text, "hopd_reservations_active"),
    rssBytes: sampleValue(text, "process_resident_memory_bytes"),
  };
}

/** RSS and CPU of the relay: from /proc when it is our child, else from its /metrics. */
function relayProbe(relay: RelayProcess | undefined, metricsUrl: string) {
  return {
    async rssMib(): Promise<number> {
      if (relay !== undefined) return (await rssKib(relay.pid)) / 1024;
      return sampleValue(await scrape(metricsUrl), "process_resident_memory_bytes") / MIB;
    },
    async cpuSeconds(): Promise<number> {
      if (relay !== undefined) return await cpuSeconds(relay.pid);
      return sampleValue(await scrape(metricsUrl), "process_cpu_seconds_total");
    },
  };
}

/** Runs the plan and returns the JSON report. */
export async function runLoadTest(plan: LoadPlan) {
  const startedAt = new Date();
  const relay = plan.relay === undefined ? await startHopd() : undefined;
  const relayAddr = plan.relay ?? relay!.tcpAddr;
  const metricsUrl = plan.opsUrl !== undefined ? `${plan.opsUrl}/metrics` : relay!.metricsUrl!;
  const probe = relayProbe(relay, metricsUrl);
  const workers: LineChild[] = [];
  const rssSamples: { t: number; rssMib: number; reservations: number }[] = [];
  try {
    log(
      `relay ${relayAddr}; ${plan.reservations} reservations, ${plan.ratePerSecond} circuits/s for ${plan.durationSeconds}s`,
    );
    const rssIdleMib = await probe.rssMib();

    // Reservations: workers of ≤ 2,500 clients, in parallel.
    const rampStart = performance.now();
    const reservers: LineChild[] = [];
    for (let left = plan.reservations; left > 0; left -= RESERVATIONS_PER_WORKER) {
      const n = Math.min(RESERVATIONS_PER_WORKER, left);
      reservers.push(startWorker("reserve", relayAddr, String(n), String(plan.rampConcurrency)));
    }
    workers.push(...reservers);
    const progress = setInterval(async () => {
      try {
        const active = sampleValue(await scrape(metricsUrl), "hopd_reservations_active");
        log(
          `ramp: ${active} reservations held after ${
            round((performance.now() - rampStart) / 1000)
          } s`,
        );
      } catch { /* the relay may be busy */ }
    }, 15_000);
    // With --ramp-timeout the workers are told to stop starting attempts at the deadline;
    // attempts in flight finish (each gives up after its own timeouts).
    const halt = plan.rampTimeoutSeconds > 0
      ? setTimeout(() => {
        log(`ramp timeout (${plan.rampTimeoutSeconds} s): holding what is reserved`);
        for (const w of reservers) void w.send({ halt: true }).catch(() => {});
      }, plan.rampTimeoutSeconds * 1000)
      : undefined;
    const rampTimeoutMs = plan.rampTimeoutSeconds > 0
      ? plan.rampTimeoutSeconds * 1000 + 600_000
      : 120_000 + plan.reservations * 300;
    let reports: Record<string, unknown>[];
    try {
      reports = await Promise.all(
        reservers.map((w) => w.next((m) => m.done === true, rampTimeoutMs)),
      );
    } finally {
      clearInterval(progress);
      clearTimeout(halt);
    }
    const rampSeconds = (performance.now() - rampStart) / 1000;
    const reserved = reports.reduce((n, r) => n + Number(r.reserved), 0);
    const reserveFailed = reports.reduce((n, r) => n + Number(r.failed), 0);
    const reserveErrors = [...new Set(reports.flatMap((r) => r.firstErrors as string[]))].slice(
      0,
      5,
    );
    log(`ramp done: ${reserved} reserved, ${reserveFailed} failed in ${round(rampSeconds)} s`);
    await sleep(plan.settleSeconds * 1000);

    // Echo targets and dialers after the ramp: stock clients with libp2p's default connection
    // monitor (ping every 10 s, abort after 5 s) lose their relay connection, and with it
    // their reservation, when the relay is busy ramping (a first soak lost all 10 targets).
    const targets = startWorker("targets", relayAddr, String(plan.targets));
    const dialers = startWorker("dialers", relayAddr, String(DIALER_NODES));
    workers.push(targets, dialers);
    const targetAddrs = (await targets.next((m) => m.ready === true, 120_000)).addrs as string[];
    await dialers.next((m) => m.ready === true, 60_000);

    // Steady phase: circuits at the asked rate while RSS and CPU are sampled.
    const before = await relayCounters(metricsUrl);
    const setupBefore = histogramBuckets(before.text, "hopd_circuit_setup_seconds");
    const cpuBefore = await probe.cpuSeconds();
    const phaseStart = performance.now();
    const sample = async () => {
      const [rssMib, counters] = await Promise.all([
        probe.rssMib(),
        scrape(metricsUrl).then((t) => sampleValue(t, "hopd_reservations_active")),
      ]);
      rssSamples.push({
        t: round((performance.now() - phaseStart) / 1000),
        rssMib: round(rssMib),
        reservations: counters,
      });
    };
    await sample();
    const sampler = setInterval(() => void sample().catch(() => {}), plan.sampleSeconds * 1000);
    const offered = Math.round(plan.ratePerSecond * plan.durationSeconds);
    let circuitReport: Record<string, unknown> = {
      dialMs: [],
      totalMs: [],
      errors: 0,
      firstErrors: [],
    };
    try {
      if (offered > 0) {
        await dialers.send({ circuits: offered, rate: plan.ratePerSecond, targets: targetAddrs });
        circuitReport = await dialers.next(
          (m) => m.done === true,
          plan.durationSeconds * 1000 + 300_000,
        );
      } else {
        await sleep(plan.durationSeconds * 1000);
      }
    } finally {
      clearInterval(sampler);
    }
    const phaseSeconds = (performance.now() - phaseStart) / 1000;
    await sample();
    const cpu = (await probe.cpuSeconds()) - cpuBefore;
    const after = await relayCounters(metricsUrl);
    const setupAfter = histogramBuckets(after.text, "hopd_circuit_setup_seconds");

    let holding = 0;
    for (const w of reservers) {
      await w.send({ count: true });
      holding += Number((await w.next((m) => typeof m.holding === "number", 60_000)).holding);
    }

    const totalMs = circuitReport.totalMs as number[];
    const dialMs = circuitReport.dialMs as number[];
    const relaySetup = (q: number) =>
      round(histogramQuantile(setupBefore, setupAfter, q).value * 1000, 2);
    const rssStart = rssSamples[0]!.rssMib;
    const rssEnd = rssSamples.at(-1)!.rssMib;
    const relayErrors = (after.circuitsFailed - before.circuitsFailed) +
      (after.streamErrors - before.streamErrors);
    const report = {
      startedAt: startedAt.toISOString(),
      plan,
      relay: { addr: relayAddr, pid: relay?.pid ?? null, ownProcess: relay !== undefined },
      reservations: {
        requested: plan.reservations,
        reserved,
        rampStoppedByTimeout: plan.rampTimeoutSeconds > 0 &&
          rampSeconds >= plan.rampTimeoutSeconds,
        failed: reserveFailed,
        firstErrors: reserveErrors,
        rampSeconds: round(rampSeconds),
        perSecond: round(reserved / rampSeconds),
        heldAtEnd: holding,
        relayActiveAtEnd: after.reservationsActive,
      },
      circuits: {
        offered,
        ok: totalMs.length,
        failed: Number(circuitReport.errors),
        firstErrors: circuitReport.firstErrors,
        achievedPerSecond: round(totalMs.length / phaseSeconds, 2),
        clientSetupMs: {
          p50: round(percentile(dialMs, 50)),
          p95: round(percentile(dialMs, 95)),
          p99: round(percentile(dialMs, 99)),
          max: round(dialMs.length > 0 ? Math.max(...dialMs) : NaN),
        },
        clientEchoMs: { p50: round(percentile(totalMs, 50)), p99: round(percentile(totalMs, 99)) },
        relaySetupMs: { p50: relaySetup(0.5), p95: relaySetup(0.95), p99: relaySetup(0.99) },
      },
      relayCounters: {
        circuitsOk: after.circuitsOk - before.circuitsOk,
        circuitsFailed: after.circuitsFailed - before.circuitsFailed,
        streamErrors: after.streamErrors - before.streamErrors,
        refusals: after.refusals - before.refusals,
        reservationsFailed: after.reservationsFailed - before.reservationsFailed,
      },
      relayErrors,
      hopd: {
        rssIdleMib: round(rssIdleMib),
        rssStartMib: rssStart,
        rssEndMib: rssEnd,
        rssMaxMib: Math.max(...rssSamples.map((s) => s.rssMib)),
        rssDriftPercent: round(((rssEnd - rssStart) / rssStart) * 100, 2),
        rssPerReservationKib: reserved > 0
          ? round(((rssStart - rssIdleMib) * 1024) / reserved)
          : null,
        cpuSeconds: round(cpu, 2),
        cpuPercentOfOneCore: round((cpu / phaseSeconds) * 100),
        samples: rssSamples,
      },
      phaseSeconds: round(phaseSeconds),
      ok: relayErrors === 0 && reserveFailed === 0 && Number(circuitReport.errors) === 0 &&
        holding === reserved,
    };
    return report;
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
    await relay?.stop();
  }
}

if (import.meta.main) {
  let plan: LoadPlan;
  try {
    plan = parseArgs(Deno.args);
  } catch (error) {
    console.error(`load_test: ${(error as Error).message}`);
    Deno.exit(2);
  }
  const report = await runLoadTest(plan);
  console.log(JSON.stringify(report, null, 2));
  Deno.exit(0);
}
