// Figure 3 of bench/relay_vs_peers.ts: circuit setup at a fixed rate, hopd, the stock js
// relay and go-libp2p's relay side by side, each relay pinned to CPU 0 and every client
// process to CPU 1 (taskset) so the relay has one core to itself.
//
// The clients are bench/circuit_setup/raw_client_worker.ts's (stock js-libp2p nodes holding
// one connection each to the relay, hop and stop spoken by hand, a 32-byte raw echo per
// circuit, no upgrade): 25 targets in one process, 4 dialer processes, circuits paced
// open-loop. Setup is measured the same way for all three relays from the outside: the
// dialer's CONNECT written → STATUS read (`connect`), which holds the relay's work, the STOP
// exchange with the target process and a loopback hop each way. Inside, where a relay can
// tell: hopd's hopd_circuit_setup_seconds (CONNECT decoded → STATUS OK queued; bucket
// interpolation) and go's hop handler wrapped in go/relay.go (first CONNECT byte read →
// first STATUS byte written; exact). The stock relay has no such measure.

import { startRawWorker } from "../circuit_setup/_workers.ts";
import {
  type LineChild,
  type RelayProcess,
  startHopd,
  startStockRelay,
} from "../relay_vs_stock/_children.ts";
import {
  cpuSeconds,
  histogramBuckets,
  histogramQuantile,
  percentile,
  scrape,
} from "../relay_vs_stock/_proc.ts";
import { type GoRelay, pin, type Programs, startGoRelay } from "./_peers.ts";

const TARGETS = 25;
const DIALER_PROCESSES = 4;
const RATE_PER_SECOND = 100;
const SECONDS_PER_ROUND = 5;
const WARMUP_SECONDS = 3;
const RELAY_CPU = "0";
const CLIENT_CPU = "1";
const HISTOGRAM = "hopd_circuit_setup_seconds";

/** What the setup figure needs from bench/relay_vs_peers.ts. */
export interface SetupInit {
  readonly programs: Programs;
  readonly relayNames: readonly RelayProcess["name"][];
  readonly hopdDenoFlags: string[];
  readonly goBuffer: number | undefined;
  /** Another hopd checkout to run beside this one as "hopd-base" (see --baseline). */
  readonly baseline?: string;
  /** Rounds of SECONDS_PER_ROUND per relay, rotating the relays (--setup-rounds). */
  readonly rounds: number;
  readonly log: (message: string) => void;
}

interface Rig {
  relay: RelayProcess;
  targets: LineChild;
  dialers: LineChild[];
  targetIds: string[];
}

interface Samples {
  offered: number;
  ok: number;
  errors: number;
  shed: number;
  firstErrors: string[];
  connect: number[];
  open: number[];
  inside: number[];
  buckets: Map<number, number>;
  relayCpuS: number;
  /** CPU seconds of the client processes (targets and dialers, CPU 1). */
  clientCpuS: number;
  /** The relay's read and write system calls (/proc/<pid>/io syscr, syscw). */
  syscalls: { reads: number; writes: number };
  /** Relay CPU ms per circuit of each round, for the spread. */
  cpuMsPerRound: number[];
  wallS: number;
}

function round(value: number, digits = 3): number {
  return Number(value.toFixed(digits));
}

function quantiles(values: number[]) {
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
  };
}

/** A process's read and write system calls so far (all threads), from /proc/<pid>/io. */
async function syscalls(pid: number): Promise<{ reads: number; writes: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/io`);
  const field = (name: string) => Number(text.match(new RegExp(`^${name}: (\\d+)`, "m"))?.[1]);
  return { reads: field("syscr"), writes: field("syscw") };
}

async function startRig(relay: RelayProcess): Promise<Rig> {
  await pin(relay.pid, RELAY_CPU);
  const targets = startRawWorker("targets", relay.tcpAddr, TARGETS);
  const dialers = Array.from(
    { length: DIALER_PROCESSES },
    () => startRawWorker("dialers", relay.tcpAddr, 1),
  );
  for (const worker of [targets, ...dialers]) await pin(worker.pid, CLIENT_CPU);
  const ready = await targets.next((m) => m.ready === true, 120_000);
  await Promise.all(dialers.map((d) => d.next((m) => m.ready === true, 60_000)));
  return { relay, targets, dialers, targetIds: ready.peerIds as string[] };
}

/** Opens `rate` circuits/s for `seconds` through the rig; returns the dialers' reports. */
async function drive(rig: Rig, rate: number, seconds: number) {
  const perProcess = rate / DIALER_PROCESSES;
  const startAtMs = Date.now() + 250;
  await Promise.all(rig.dialers.map((d, k) =>
    d.send({
      run: {
        rate: perProcess,
        circuits: Math.round(perProcess * seconds),
        startAtMs: startAtMs + (k * 1000) / rate,
        targets: rig.targetIds,
        firstTarget: k,
      },
    })
  ));
  return await Promise.all(
    rig.dialers.map((d) => d.next((m) => m.done === true, seconds * 1000 + 60_000)),
  );
}

async function measureRound(rig: Rig, into: Samples): Promise<void> {
  const { relay } = rig;
  const go = relay.name === "go" ? relay as GoRelay : undefined;
  await go?.resetSetup();
  const before = relay.metricsUrl ? await scrape(relay.metricsUrl) : "";
  const clients = [rig.targets, ...rig.dialers].map((c) => c.pid);
  const clientCpu = async () =>
    (await Promise.all(clients.map(cpuSeconds))).reduce((a, b) => a + b);
  const clientCpu0 = await clientCpu();
  const io0 = await syscalls(relay.pid);
  const cpu0 = await cpuSeconds(relay.pid);
  const reports = await drive(rig, RATE_PER_SECOND, SECONDS_PER_ROUND);
  const cpuS = (await cpuSeconds(relay.pid)) - cpu0;
  into.clientCpuS += (await clientCpu()) - clientCpu0;
  const io1 = await syscalls(relay.pid);
  into.syscalls.reads += io1.reads - io0.reads;
  into.syscalls.writes += io1.writes - io0.writes;
  into.relayCpuS += cpuS;
  const okInRound = reports.reduce((sum, r) => sum + Number(r.ok), 0);
  into.cpuMsPerRound.push(round((cpuS * 1000) / Math.max(1, okInRound)));
  for (const r of reports) {
    into.offered += Number(r.circuits);
    into.ok += Number(r.ok);
    into.errors += Number(r.errors);
    into.shed += Number(r.shed);
    into.firstErrors.push(...(r.firstErrors as string[]));
    into.connect.push(...(r.connectMs as number[]));
    into.open.push(...(r.openMs as number[]));
  }
  into.wallS += Math.max(...reports.map((r) => Number(r.elapsedMs))) / 1000;
  if (go !== undefined) into.inside.push(...await go.setupMs());
  if (relay.metricsUrl) {
    const after = await scrape(relay.metricsUrl);
    const [b, a] = [histogramBuckets(before, HISTOGRAM), histogramBuckets(after, HISTOGRAM)];
    for (const [le, n] of a) {
      into.buckets.set(le, (into.buckets.get(le) ?? 0) + n - (b.get(le) ?? 0));
    }
  }
}

function summarize(name: string, s: Samples) {
  let inside: Record<string, unknown> | null = null;
  if (name.startsWith("hopd") && s.buckets.size > 0) {
    const q = (p: number) => round(histogramQuantile(new Map(), s.buckets, p).value * 1000);
    inside = {
      how: "hopd_circuit_setup_seconds: CONNECT decoded → STATUS OK queued (interpolated)",
      n: s.buckets.get(Infinity) ?? 0,
      p50: q(0.5),
      p99: q(0.99),
    };
  } else if (name === "go") {
    inside = {
      how: "hop handler wrapped: first CONNECT byte read → first STATUS byte written",
      ...quantiles(s.inside),
    };
  }
  return {
    offered: s.offered,
    ok: s.ok,
    errors: s.errors,
    shed: s.shed,
    firstErrors: [...new Set(s.firstErrors)].slice(0, 3),
    achievedRatePerSecond: round(s.ok / s.wallS, 1),
    outsideConnectMs: quantiles(s.connect),
    outsideOpenMs: quantiles(s.open),
    insideSetupMs: inside,
    relayCpuMsPerCircuit: round((s.relayCpuS * 1000) / Math.max(1, s.ok)),
    relayCpuMsPerCircuitByRound: s.cpuMsPerRound,
    // What the same clients spent per circuit through this relay: a relay that sends more
    // messages (window updates, separate frames) costs its clients more, on the core they share.
    relaySyscallsPerCircuit: {
      reads: round(s.syscalls.reads / Math.max(1, s.ok), 1),
      writes: round(s.syscalls.writes / Math.max(1, s.ok), 1),
    },
    clientCpuMsPerCircuit: round((s.clientCpuS * 1000) / Math.max(1, s.ok)),
    relayCpuShareOfOneCore: round(s.relayCpuS / s.wallS),
  };
}

/** Circuit setup of every relay at 100/s, rounds rotating, the relays pinned to CPU 0. */
export async function measureSetup(init: SetupInit) {
  const rigs: Rig[] = [];
  const relays: RelayProcess[] = [];
  try {
    for (const name of init.relayNames) {
      const relay = name === "hopd"
        ? await startHopd(init.hopdDenoFlags)
        : name === "stock"
        ? await startStockRelay()
        : await startGoRelay(init.programs, init.goBuffer);
      relays.push(relay);
      rigs.push(await startRig(relay));
    }
    if (init.baseline !== undefined) {
      const base = await startHopd(init.hopdDenoFlags, {
        name: "hopd-base",
        env: {},
        checkout: init.baseline,
      });
      relays.push(base);
      rigs.push(await startRig(base));
    }
    for (const rig of rigs) await drive(rig, 20, WARMUP_SECONDS); // JIT, not measured
    const samples = new Map<Rig, Samples>(rigs.map((r) => [r, {
      offered: 0,
      ok: 0,
      errors: 0,
      shed: 0,
      firstErrors: [],
      connect: [],
      open: [],
      inside: [],
      buckets: new Map(),
      relayCpuS: 0,
      clientCpuS: 0,
      syscalls: { reads: 0, writes: 0 },
      cpuMsPerRound: [],
      wallS: 0,
    }]));
    for (let r = 0; r < init.rounds; r++) {
      for (let k = 0; k < rigs.length; k++) {
        const rig = rigs[(r + k) % rigs.length]!;
        await measureRound(rig, samples.get(rig)!);
        init.log(`setup ${rig.relay.name} ${RATE_PER_SECOND}/s round ${r + 1} done`);
      }
    }
    const figures: Record<string, unknown> = {};
    for (const rig of rigs) figures[rig.relay.name] = summarize(rig.relay.name, samples.get(rig)!);
    return {
      ratePerSecond: RATE_PER_SECOND,
      rounds: init.rounds,
      secondsPerRound: SECONDS_PER_ROUND,
      pinning: `relay on CPU ${RELAY_CPU}; targets, dialers on CPU ${CLIENT_CPU} (taskset -a)`,
      clients: `${TARGETS} targets in one process, ${DIALER_PROCESSES} dialer processes; ` +
        "stock js-libp2p nodes, hop/stop by hand, 32-byte raw echo per circuit",
      ...figures,
    };
  } finally {
    await Promise.all(rigs.flatMap((r) => [r.targets, ...r.dialers]).map((w) => w.stop()));
    await Promise.all(relays.map((r) => r.stop()));
  }
}
