// Issue 4 and issue 15 item 9 figure: what a well-behaved client keeps of its service during
// a flood, as a share of what it gets without the flood (goal ≥ 80%). hopd runs with its
// DEFAULT limits (circuit data and duration limits off) on 127.0.0.1 and ::1; the
// well-behaved pair (stock js-libp2p clients) uses 127.0.0.1, the attacker
// (bench/flood/attacker.ts, its own process) ::1. Quiet and flooded measurements alternate,
// --runs of each; the share is the ratio of the medians.
//
// --mode bulk (issue 4): the pair reserves and echoes --mib MiB through a new circuit each
//   time (MiB/s); the attacker runs 2 raw-connect loops and 4 reserving loops.
// --mode echo (issue 15 item 9's probe): the pair holds ONE circuit and sends 1 KiB round
//   trips through it for --seconds (round trips/s); the attacker runs 50 loops of fresh
//   identities that connect and reserve, and no raw connects.
// --peers N and --raw N override the attacker's loops.
// --profile FILE: hopd runs with the V8 inspector and a CPU profile is taken over each
// measurement; FILE gets their summary (self time by package and function) as JSON, and
// FILE.<window>-<n>.cpuprofile each whole profile.
// The CPU seconds hopd, the pair (this process) and the attacker used in each measurement are
// printed in any case; so are `stages` (per flood, what the flooded relay did with it: sockets
// refused at accept by reason, handshakes shed or timed out, connections opened, RESERVE
// answers, limiter refusals) and `eventLoopLagMs` (hopd's event-loop delay per measurement).
// --pin: the relay the pair uses gets CPU 0 to itself; this process (the pair), the attacker
// and the decoy share CPU 1 (taskset; --attacker-cpu 0 puts the attacker and the decoy on
// CPU 0 instead), so what the flood costs the pair through the relay is
// apart from what the attacker's own CPU costs it. Without --pin every process shares both
// cores, as in the probe. --attacker-nice N runs the attacker (and the decoy) at nice N
// (default 0); --attacker-idle runs them in the SCHED_IDLE class (chrt --idle 0): the pair has
// CPU 1 first and they get what it leaves (nice 19 is not enough for a latency-bound pair: a
// waking pair still waits out the attacker's slice).
// --client node (echo mode): the pair is stock js-libp2p 3.3 under Node 20 in its own process
// (bench/flood/node_echo_pair.mjs), as the probes ran their clients; with
// --stream-per-trip it opens a new echo stream for every round trip (write 1 KiB, close, read
// the echo to its end): the latency-bound regime of the issue's probe (RESULTS.md, "Identity
// flood in the issue's regime"). Default: --client deno, one stream, in this process.
// --stock: a stock js-libp2p relay (bench/relay_vs_stock/stock_relay.ts, limits off, also on
// ::1) with its own pair is measured in the same run, quiet and flooded, after hopd's windows.
// --decoy: the control. A second hopd is started, and each run adds a measurement while the
// attacker floods the decoy instead (decoyShare): what the flood costs the pair through the
// machine alone (the attacker's CPU, the decoy's), with the pair's relay spared.
//
//   deno run -A bench/flood_throughput.ts [--mode bulk] [--mib 32] [--runs 3]
//   deno run -A bench/flood_throughput.ts --mode echo [--seconds 8] [--runs 3] [--decoy] [--pin]
//
// Prints one JSON document.
// @ts-types="../tests/interop/relay_echo_client.d.ts"
import { relayEcho } from "../tests/interop/relay_echo_client.mjs";
import { numberArg } from "./_args.ts";
import { type EchoPair, openEchoPair } from "./flood/echo_pair.ts";
import { openNodeEchoPair } from "./flood/node_pair.ts";
import { jsonLines } from "./relay_vs_stock/_lines.ts";
import { Profiler, summarize } from "./flood/_profile.ts";
import { freePort } from "./relay_vs_stock/_inspector.ts";
import { cpuSeconds } from "./relay_vs_stock/_proc.ts";

const REPO_ROOT = new URL("../", import.meta.url).pathname;
const GOAL_SHARE = 0.8;

/**
 * `deno args` as a command, under `taskset -c cpu` and at `niceness` when given; niceness
 * "idle" is the SCHED_IDLE class (`chrt --idle 0`): it runs only when nothing else on its CPU
 * wants to, and any other task that wakes preempts it at once.
 */
function placed(
  args: string[],
  cpu: string | undefined,
  niceness: number | "idle" = 0,
): { program: string; args: string[] } {
  const command = [
    ...(niceness === "idle"
      ? ["chrt", "--idle", "0"]
      : niceness === 0
      ? []
      : ["nice", "-n", String(niceness)]),
    ...(cpu === undefined ? [] : ["taskset", "-c", cpu]),
    Deno.execPath(),
    ...args,
  ];
  return { program: command[0]!, args: command.slice(1) };
}

async function startHopd(
  inspectPort: number | undefined,
  cpu: string | undefined,
  niceness: number | "idle" = 0,
) {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-flood-" });
  const command = placed(
    [
      "run",
      ...(inspectPort === undefined ? [] : [`--inspect=127.0.0.1:${inspectPort}`]),
      "-P=hopd",
      "--quiet",
      "main.ts",
      "run",
      "--http",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      "--log-format",
      "json",
      "--log-level",
      "info",
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--listen",
      "/ip6/::1/tcp/0",
    ],
    cpu,
    niceness,
  );
  const child = new Deno.Command(command.program, {
    args: command.args,
    cwd: REPO_ROOT,
    // Unlimited circuits so the echo measures throughput, not the circuit data limit.
    env: { HOPD_RELAY_CIRCUIT_DATA: "0", HOPD_RELAY_CIRCUIT_DURATION: "0" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let addrs: string[] | undefined;
  let opsUrl: string | undefined;
  while (addrs === undefined || opsUrl === undefined) {
    const { value, done } = await lines.read();
    if (done) throw new Error("hopd exited during start");
    buffer += value;
    for (const line of buffer.split("\n").slice(0, -1)) {
      const props = JSON.parse(line).properties ?? {};
      if (Array.isArray(props.addrs)) addrs = props.addrs;
      if (typeof props.url === "string") opsUrl = props.url;
    }
    buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
  }
  // Keep draining stderr so the child never blocks on a full pipe.
  (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  return { child, addrs, opsUrl, dataDir };
}

/** The stock js-libp2p relay (limits off) on 127.0.0.1 and ::1, at `cpu` when pinned. */
async function startStockRelay(cpu: string | undefined) {
  const command = placed(
    ["run", "-A", "--quiet", "bench/relay_vs_stock/stock_relay.ts", "--ip6"],
    cpu,
  );
  const child = new Deno.Command(command.program, {
    args: command.args,
    cwd: REPO_ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = jsonLines(child.stdout);
  const ready = (await lines.next()).value;
  if (ready?.ready !== true) throw new Error("the stock relay did not start");
  const peerId = String(ready.peerId);
  const addrs = (ready.addrs as string[]).filter((a) => !a.includes("/ws")).map((a) =>
    a.includes("/p2p/") ? a : `${a}/p2p/${peerId}`
  );
  (async () => {
    while (!(await lines.next()).done) { /* discard */ }
  })();
  return { child, addrs };
}

/** The series of `names` with a value above 0, label sets as keys (`name{labels}`). */
async function series(opsUrl: string, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!names.some((name) => line.startsWith(`${name}{`))) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (value > 0) out[line.slice(0, line.lastIndexOf(" "))] = value;
  }
  return out;
}

/** Every series of `names` (zeros included), label sets as keys. */
async function counters(opsUrl: string, names: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!names.some((name) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    out[line.slice(0, line.lastIndexOf(" "))] = Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

// What a relay did with the flood, stage by stage: sockets refused at accept (by reason),
// handshakes shed or timed out, libp2p connections opened (Noise and yamux done; identify
// runs on each), RESERVE answers by result, limiter refusals.
const STAGE_SERIES = [
  "hopd_socket_refusals_total",
  "hopd_socket_timeouts_total",
  "hopd_connections_opened_total",
  "hopd_reservations_total",
  "hopd_rate_limited_total",
];

/** `after` minus `before`, series that did not move left out. */
function delta(before: Record<string, number>, after: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const moved = value - (before[key] ?? 0);
    if (moved > 0) out[key] = moved;
  }
  return out;
}

// hopd's event-loop delay (prom-client's monitorEventLoopDelay, reset at every scrape): read
// once before a measurement to reset it, once after to read the measurement's.
const LAG_SERIES = [
  "nodejs_eventloop_lag_p50_seconds",
  "nodejs_eventloop_lag_p99_seconds",
  "nodejs_eventloop_lag_max_seconds",
];

async function lagMs(opsUrl: string): Promise<Record<string, number>> {
  const values = await counters(opsUrl, LAG_SERIES);
  return Object.fromEntries(
    Object.entries(values).map((
      [key, value],
    ) => [key.replace(/^nodejs_eventloop_lag_|_seconds$/g, ""), Number((value * 1000).toFixed(2))]),
  );
}

async function metric(opsUrl: string, prefix: string): Promise<number> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(prefix)).reduce(
    (sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)),
    0,
  );
}

async function echoMibPerSecond(relayAddr: string, bytes: number): Promise<number> {
  const result = await relayEcho(relayAddr, bytes);
  if (!result.intact) throw new Error("echo came back damaged");
  return (bytes / 1_048_576) / (result.elapsedMs / 1000);
}

const mode = Deno.args.includes("--mode") ? Deno.args[Deno.args.indexOf("--mode") + 1] : "bulk";
if (mode !== "bulk" && mode !== "echo") {
  throw new RangeError(`--mode must be bulk or echo: current value is ${mode}`);
}
const mib = numberArg("--mib", 32);
const seconds = numberArg("--seconds", 8);
const runs = numberArg("--runs", 3);
const peers = numberArg("--peers", mode === "echo" ? 50 : 4);
const raws = numberArg("--raw", mode === "echo" ? 0 : 2);
const profileAt = Deno.args.includes("--profile")
  ? Deno.args[Deno.args.indexOf("--profile") + 1]
  : undefined;
const decoy = Deno.args.includes("--decoy");
const client = Deno.args.includes("--client")
  ? Deno.args[Deno.args.indexOf("--client") + 1]
  : "deno";
if (client !== "deno" && client !== "node") {
  throw new RangeError(`--client must be deno or node: current value is ${client}`);
}
const streamPerTrip = Deno.args.includes("--stream-per-trip");
if (streamPerTrip && client !== "node") {
  throw new RangeError("--stream-per-trip needs --client node");
}
const withStock = Deno.args.includes("--stock");
if ((withStock || client === "node") && mode !== "echo") {
  throw new RangeError("--stock and --client node need --mode echo");
}
const pinned = Deno.args.includes("--pin");
const attackerNice: number | "idle" = Deno.args.includes("--attacker-idle")
  ? "idle"
  : numberArg("--attacker-nice", 0);
// With --pin: the pair's relay alone on CPU 0; everything else on CPU 1.
const RELAY_CPU = pinned ? "0" : undefined;
const OTHERS_CPU = pinned ? "1" : undefined;
// --attacker-cpu 0 moves the attacker and the decoy beside the relay instead (with
// --attacker-idle: they get the relay's idle time, and the pair keeps CPU 1 to itself).
const ATTACKER_CPU = pinned ? String(numberArg("--attacker-cpu", 1)) : undefined;
if (ATTACKER_CPU !== undefined && ATTACKER_CPU !== "0" && ATTACKER_CPU !== "1") {
  throw new RangeError(`--attacker-cpu must be 0 or 1: current value is ${ATTACKER_CPU}`);
}
if (OTHERS_CPU !== undefined) {
  // This process holds the pair; its threads and the ones it starts later stay on CPU 1.
  const taskset = await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", OTHERS_CPU, String(Deno.pid)],
    stdout: "null",
  }).output();
  if (!taskset.success) throw new Error("taskset could not pin this process");
}
const bytes = mib * 1_048_576;
const inspectPort = profileAt === undefined ? undefined : freePort();
const hopd = await startHopd(inspectPort, RELAY_CPU);
// The control: a second hopd, which the attacker floods instead while the pair still uses the
// first. The machine carries the same flood; only the relay the pair uses is spared it.
const decoyInspectPort = decoy && profileAt !== undefined ? freePort() : undefined;
// The decoy is part of the flood's load on the machine: it sits with the attacker.
const decoyHopd = decoy ? await startHopd(decoyInspectPort, ATTACKER_CPU, attackerNice) : undefined;
const profiler = inspectPort === undefined ? undefined : await Profiler.open(inspectPort);
const decoyProfiler = decoyInspectPort === undefined
  ? undefined
  : await Profiler.open(decoyInspectPort);
const profiles: Record<"quiet" | "flooded" | "decoy", unknown[]> = {
  quiet: [],
  flooded: [],
  decoy: [],
};
// CPU seconds per second of measurement: hopd quiet and flooded, the attacker, the decoy
// while flooded (the flood's whole cost to a relay that does nothing else).
const cpu = {
  pairQuiet: [] as number[],
  pairFlooded: [] as number[],
  hopdQuiet: [] as number[],
  hopdFlooded: [] as number[],
  attacker: [] as number[],
  decoyFlooded: [] as number[],
  stockQuiet: [] as number[],
  stockFlooded: [] as number[],
};
const v4 = hopd.addrs.find((a) => a.startsWith("/ip4/"))!;
const quiet: number[] = [];
const flooded: number[] = [];
const decoyFlooded: number[] = [];
const attacks: Record<string, number>[] = [];
// Per flooded window of the pair's relay (and of the decoy): the stage counts over the whole
// attack, and the event-loop delay over the measurement (quiet windows too, for comparison).
const stages: { relay: Record<string, number>[]; decoy: Record<string, number>[] } = {
  relay: [],
  decoy: [],
};
// The pair's relay's, in the decoy windows too (the machine's flood, not its own).
const eventLoopLagMs: Record<"quiet" | "flooded" | "decoy", Record<string, number>[]> = {
  quiet: [],
  flooded: [],
  decoy: [],
};
/** An echo pair of the kind asked for on `relayAddr`, and the process it runs in. */
async function openPair(relayAddr: string): Promise<{ pair: EchoPair; pid: number }> {
  if (client === "deno") return { pair: await openEchoPair(relayAddr), pid: Deno.pid };
  const pair = await openNodeEchoPair(relayAddr, streamPerTrip, OTHERS_CPU);
  return { pair, pid: pair.pid };
}
const opened = mode === "echo" ? await openPair(v4) : undefined;
const pair = opened?.pair;
const pairPid = opened?.pid ?? Deno.pid;
const stock = withStock ? await startStockRelay(RELAY_CPU) : undefined;
const stockOpened = stock === undefined
  ? undefined
  : await openPair(stock.addrs.find((a) => a.startsWith("/ip4/"))!);
const stockQuiet: number[] = [];
const stockFlooded: number[] = [];
// One measurement: echo round trips/s over `seconds`, or MiB/s of a bulk echo.
const measure = pair === undefined
  ? () => echoMibPerSecond(v4, bytes)
  : () => pair.roundTripsPerSecond(seconds);

/** Milliseconds the main thread of `pid` has waited on a run queue (runnable, not running). */
async function runqueueWaitMs(pid: number): Promise<number> {
  const schedstat = await Deno.readTextFile(`/proc/${pid}/task/${pid}/schedstat`);
  return Number(schedstat.split(" ")[1]) / 1e6;
}

type Window = "quiet" | "flooded" | "decoy";
// Per window, per second: how long the main threads of the pair's relay and of the pair
// waited for a CPU (the machine's share of the loss, apart from work done).
const runqueueWaitMsPerSecond: Record<Window, { hopd: number[]; pair: number[] }> = {
  quiet: { hopd: [], pair: [] },
  flooded: { hopd: [], pair: [] },
  decoy: { hopd: [], pair: [] },
};

/**
 * Measures once with the CPU use of the pair's relay and of the pair, the relay's event-loop
 * delay and both main threads' run-queue waits; profiled when asked ("decoy": the decoy is
 * flooded and profiled).
 */
async function measured(kind: Window): Promise<number> {
  const profiled = kind === "decoy" ? decoyProfiler : profiler;
  await profiled?.start();
  await lagMs(hopd.opsUrl);
  const pids = [hopd.child.pid, pairPid, decoyHopd?.child.pid ?? hopd.child.pid];
  const cpuAt = await Promise.all(pids.map(cpuSeconds));
  const waitAt = await Promise.all(pids.slice(0, 2).map(runqueueWaitMs));
  const at = performance.now();
  const value = await measure();
  const elapsed = (performance.now() - at) / 1000;
  const used = (await Promise.all(pids.map(cpuSeconds))).map((s, i) => (s - cpuAt[i]!) / elapsed);
  const waited = (await Promise.all(pids.slice(0, 2).map(runqueueWaitMs))).map((ms, i) =>
    (ms - waitAt[i]!) / elapsed
  );
  if (kind === "decoy") {
    cpu.decoyFlooded.push(used[2]!);
  } else {
    (kind === "quiet" ? cpu.hopdQuiet : cpu.hopdFlooded).push(used[0]!);
    (kind === "quiet" ? cpu.pairQuiet : cpu.pairFlooded).push(used[1]!);
  }
  runqueueWaitMsPerSecond[kind].hopd.push(waited[0]!);
  runqueueWaitMsPerSecond[kind].pair.push(waited[1]!);
  eventLoopLagMs[kind].push(await lagMs(hopd.opsUrl));
  if (profiled !== undefined) {
    const profile = await profiled.stop();
    profiles[kind].push(summarize(profile));
    // The whole profile beside the summary, for a look at call stacks (e.g. in Chrome DevTools).
    await Deno.writeTextFile(
      `${profileAt}.${kind}-${profiles[kind].length}.cpuprofile`,
      JSON.stringify(profile),
    );
  }
  return value;
}

/** One measurement on the stock relay's pair, with the stock relay's CPU. */
async function measuredStock(kind: "quiet" | "flooded"): Promise<number> {
  const at = performance.now();
  const cpuAt = await cpuSeconds(stock!.child.pid);
  const value = await stockOpened!.pair.roundTripsPerSecond(seconds);
  const used = (await cpuSeconds(stock!.child.pid) - cpuAt) / ((performance.now() - at) / 1000);
  (kind === "quiet" ? cpu.stockQuiet : cpu.stockFlooded).push(used);
  return value;
}

/** Measures once while the attacker floods `target`'s ::1 listener (stages: hopd's only). */
async function duringFlood(
  target: { addrs: string[]; opsUrl?: string },
  run: () => Promise<number>,
) {
  const countsAt = target.opsUrl === undefined ? {} : await counters(target.opsUrl, STAGE_SERIES);
  const v6 = target.addrs.find((a) => a.startsWith("/ip6/"))!;
  const v6Port = /\/tcp\/(\d+)/.exec(v6)![1];
  const command = placed(
    [
      "run",
      "-A",
      "bench/flood/attacker.ts",
      "--tcp",
      `[::1]:${v6Port}`,
      "--relay",
      v6,
      "--peers",
      String(peers),
      "--raw",
      String(raws),
      "--seconds",
      String(mode === "echo" ? seconds + 2 : 8),
    ],
    ATTACKER_CPU,
    attackerNice,
  );
  const attacker = new Deno.Command(command.program, {
    args: command.args,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // let the flood build up
    const attackerCpuAt = await cpuSeconds(attacker.pid).catch(() => NaN);
    const at = performance.now();
    const value = await run();
    const elapsed = (performance.now() - at) / 1000;
    cpu.attacker.push((await cpuSeconds(attacker.pid).catch(() => NaN) - attackerCpuAt) / elapsed);
    const output = await attacker.output();
    attacks.push(JSON.parse(new TextDecoder().decode(output.stdout).trim()));
    if (target.opsUrl !== undefined) {
      stages[target === hopd ? "relay" : "decoy"].push(
        delta(countsAt, await counters(target.opsUrl, STAGE_SERIES)),
      );
    }
    return value;
  } catch (error) {
    attacker.kill("SIGKILL");
    await attacker.status;
    throw error;
  }
}

let failure: unknown;
try {
  if (pair === undefined) await echoMibPerSecond(v4, 4 * 1_048_576); // warm-up
  else await pair.roundTripsPerSecond(2);
  await stockOpened?.pair.roundTripsPerSecond(2);
  for (let run = 0; run < runs; run++) {
    quiet.push(await measured("quiet"));
    flooded.push(await duringFlood(hopd, () => measured("flooded")));
    if (decoyHopd !== undefined) {
      decoyFlooded.push(
        await duringFlood(decoyHopd, () => measured("decoy")),
      );
    }
    if (stock !== undefined) {
      stockQuiet.push(await measuredStock("quiet"));
      stockFlooded.push(await duringFlood(stock, () => measuredStock("flooded")));
    }
  }
} catch (error) {
  failure = error;
} finally {
  await pair?.close();
  await stockOpened?.pair.close();
  if (stock !== undefined) {
    stock.child.kill("SIGTERM");
    await stock.child.status;
  }
  profiler?.close();
  decoyProfiler?.close();
  if (profileAt !== undefined) {
    await Deno.writeTextFile(profileAt, JSON.stringify(profiles, null, 1));
  }
  const refusals = await metric(hopd.opsUrl, "hopd_rate_limited_total");
  // Over the whole run (quiet windows included): where the pair's relay refused the flood.
  const refusalsBySeries = await series(hopd.opsUrl, [
    "hopd_rate_limited_total",
    "hopd_socket_refusals_total",
  ]);
  for (const relay of [hopd, decoyHopd]) {
    if (relay === undefined) continue;
    relay.child.kill("SIGTERM");
    await relay.child.status;
    await Deno.remove(relay.dataDir, { recursive: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const share = median(flooded) / median(quiet);
  console.log(JSON.stringify(
    {
      bench: "flood_throughput",
      date: new Date().toISOString(),
      mode,
      unit: mode === "echo" ? "1 KiB round trips/s" : "MiB/s",
      ...(mode === "echo"
        ? {
          client: client === "node"
            ? `node${streamPerTrip ? ", a stream per round trip" : ""}`
            : "deno",
        }
        : {}),
      ...(mode === "echo" ? { secondsPerMeasure: seconds } : { mibPerEcho: mib }),
      runs,
      attackerLoops: { peers, raw: raws },
      placement: pinned
        ? `relay on CPU ${RELAY_CPU}; pair on CPU ${OTHERS_CPU}; attacker and decoy (nice ${attackerNice}) on CPU ${ATTACKER_CPU}`
        : `unpinned: every process on both cores, attacker at nice ${attackerNice}`,
      quiet: quiet.map((x) => Number(x.toFixed(1))),
      flooded: flooded.map((x) => Number(x.toFixed(1))),
      share: Number(share.toFixed(3)),
      ...(decoy
        ? {
          decoyFlooded: decoyFlooded.map((x) => Number(x.toFixed(1))),
          decoyShare: Number((median(decoyFlooded) / median(quiet)).toFixed(3)),
        }
        : {}),
      ...(stock !== undefined
        ? {
          stockQuiet: stockQuiet.map((x) => Number(x.toFixed(1))),
          stockFlooded: stockFlooded.map((x) => Number(x.toFixed(1))),
          stockShare: Number((median(stockFlooded) / median(stockQuiet)).toFixed(3)),
        }
        : {}),
      goal: GOAL_SHARE,
      meets: share >= GOAL_SHARE,
      cpuSecondsPerSecond: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, v.map((x) => Number(x.toFixed(2)))]),
      ),
      attacks,
      stages,
      eventLoopLagMs,
      runqueueWaitMsPerSecond: Object.fromEntries(
        Object.entries(runqueueWaitMsPerSecond).map((
          [k, v],
        ) => [k, {
          hopd: v.hopd.map((x) => Math.round(x)),
          pair: v.pair.map((x) => Math.round(x)),
        }]),
      ),
      hopdRateLimitedTotal: refusals,
      hopdRefusals: refusalsBySeries,
    },
    null,
    2,
  ));
}
if (failure !== undefined) console.error(failure);
// Every client node has stopped, yet the process would never end: mortice (the lock library of
// libp2p's peer store) opens one process-wide BroadcastChannel at a node's first peer store
// lock and never closes it, and Deno's BroadcastChannel has no unref(). Both modes' clients
// (identify writes the peer store on start) leave it behind.
Deno.exit(failure === undefined ? 0 : 1);
