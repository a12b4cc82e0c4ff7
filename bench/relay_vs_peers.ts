// hopd against the relays users would pick instead, side by side in one run (issue 13, item
// 5): go-libp2p's own circuit relay v2 service (bench/relay_vs_peers/go, `relay.New` with
// limits off, as go-libp2p-relay-daemon runs it) and the stock js-libp2p relay
// (bench/relay_vs_stock/stock_relay.ts, limits off). Each relay is its own process; CPU time
// and RSS come from /proc/<pid>. Three figures, each comparing the three relays in the same
// invocation (rounds rotate the relays so machine noise hits all of them):
//
//   cpu           relay CPU seconds per GiB relayed, one stream through one circuit (64 KiB
//                 writes, --bytes per round), for every client kind as source and sink:
//                 Deno and Node (js-libp2p), go (go-libp2p), rust (rust-libp2p)
//   setup         circuit setup p50/p99 at --rate circuits/s, the relay pinned to CPU 0 and
//                 every client process to CPU 1 (taskset), measured from the outside for all
//                 three (the dialer's CONNECT written → STATUS read) and inside where a relay
//                 can tell (hopd's histogram; go's hop handler wrapped, go/relay.go)
//   reservations  RSS per held reservation at each step of --steps (1,000 and 10,000)
//
//   deno run -A bench/relay_vs_peers.ts [--only cpu|setup|reservations] [--clients deno,node,go,rust]
//       [--relays hopd,stock,go] [--bytes 268435456] [--rounds 3] [--go-buffer BYTES]
//       [--steps 1000,10000] [--hold 60] [--baseline DIR] [--hopd-bundled] [--setup-rounds 2]
//
// --baseline DIR adds hopd run from another checkout (e.g. `git archive main` plus its
// node_modules) to the cpu and setup figures as "hopd-base", rotating with the others: a
// change to the data path or the setup path is measured against what it replaces in the same
// run (in the setup figure it gets its own clients, pinned like the others').
// --hopd-bundled adds this checkout bundled by scripts/bundle.sh (what the compiled binary
// embeds) to the cpu figure as "hopd-bundled", rotating with the others.
//
// Prints one JSON document (also written to bench/.out/relay_vs_peers.json).

import { numberArg } from "./_args.ts";
import {
  buildPrograms,
  CLIENT_KINDS,
  type ClientKind,
  type ClientPair,
  type GoRelay,
  type Programs,
  startGoRelay,
  startPair,
} from "./relay_vs_peers/_peers.ts";
import { measureReservations } from "./relay_vs_peers/_reservations.ts";
import { measureSetup } from "./relay_vs_peers/_setup.ts";
import { type RelayProcess, startHopd, startStockRelay } from "./relay_vs_stock/_children.ts";
import {
  clockTicksPerSecond,
  cpuSeconds,
  median,
  sampleValue,
  scrape,
} from "./relay_vs_stock/_proc.ts";

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
type RelayName = RelayProcess["name"];
const RELAY_NAMES: readonly RelayName[] = ["hopd", "stock", "go"];

function listArg<T extends string>(name: string, all: readonly T[]): T[] {
  const at = Deno.args.indexOf(name);
  if (at < 0) return [...all];
  const picked = (Deno.args[at + 1] ?? "").split(",").filter((s) => s !== "");
  for (const p of picked) {
    if (!all.includes(p as T)) {
      throw new RangeError(`${name} takes ${all.join(", ")}: current value is ${p}`);
    }
  }
  return picked as T[];
}

const only = Deno.args.includes("--only") ? Deno.args[Deno.args.indexOf("--only") + 1] : "";
const runs = (phase: string) => only === "" || only === phase;
const clientKinds = listArg<ClientKind>("--clients", CLIENT_KINDS);
const relayNames = listArg<RelayName>("--relays", RELAY_NAMES);
const ROUND_BYTES = numberArg("--bytes", 256 * MIB);
const ROUNDS = numberArg("--rounds", 3);
const SETUP_ROUNDS = numberArg("--setup-rounds", 2);
const WARMUP_BYTES = 32 * MIB;
const goBuffer = Deno.args.includes("--go-buffer") ? numberArg("--go-buffer", 0) : undefined;
const STEPS = Deno.args.includes("--steps")
  ? Deno.args[Deno.args.indexOf("--steps") + 1]!.split(",").map(Number)
  : [1_000, 10_000];
const HOLD_MS = numberArg("--hold", 60) * 1000;
// `--hopd-deno-flag=--cpu-prof` (repeatable): extra Deno flags for hopd, for profiling.
const baseline = Deno.args.includes("--baseline")
  ? Deno.args[Deno.args.indexOf("--baseline") + 1]
  : undefined;
const hopdDenoFlags = Deno.args.filter((a) => a.startsWith("--hopd-deno-flag="))
  .map((a) => a.slice("--hopd-deno-flag=".length));
const bundledDir = Deno.args.includes("--hopd-bundled")
  ? await Deno.makeTempDir({ prefix: "hopd-bundled-" })
  : undefined;
if (bundledDir !== undefined) {
  const output = await new Deno.Command("bash", {
    args: [new URL("../scripts/bundle.sh", import.meta.url).pathname, "--outdir", bundledDir],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  globalThis.addEventListener("unload", () => Deno.removeSync(bundledDir, { recursive: true }));
}

function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}

function log(message: string): void {
  console.error(`[relay_vs_peers ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Starts the relays asked for, in `relayNames` order, then the baseline hopd if asked. */
async function startRelays(programs: Programs): Promise<RelayProcess[]> {
  const relays: RelayProcess[] = [];
  try {
    for (const name of relayNames) {
      relays.push(
        name === "hopd"
          ? await startHopd(hopdDenoFlags)
          : name === "stock"
          ? await startStockRelay()
          : await startGoRelay(programs, goBuffer),
      );
    }
    if (baseline !== undefined) {
      relays.push(
        await startHopd(hopdDenoFlags, { name: "hopd-base", env: {}, checkout: baseline }),
      );
    }
    if (bundledDir !== undefined) {
      relays.push(
        await startHopd(hopdDenoFlags, {
          name: "hopd-bundled",
          env: {},
          entry: `${bundledDir}/hopd.js`,
        }),
      );
    }
  } catch (error) {
    await Promise.all(relays.map((r) => r.stop()));
    throw error;
  }
  return relays;
}

/** Bytes the relay says it relayed (hopd's counter, go's tracer); NaN for the stock relay. */
async function relayedBytes(relay: RelayProcess): Promise<number> {
  if (relay.name === "go") return await (relay as GoRelay).relayedBytes();
  if (relay.metricsUrl === undefined) return NaN;
  const text = await scrape(relay.metricsUrl);
  return sampleValue(text, "hopd_relayed_bytes_total", 'direction="src_to_dst"') +
    sampleValue(text, "hopd_relayed_bytes_total", 'direction="dst_to_src"');
}

/** Figure 1 for one client kind: every relay, --rounds rounds each, rotating. */
async function cpuForKind(programs: Programs, relays: RelayProcess[], kind: ClientKind) {
  const pairs: ClientPair[] = [];
  try {
    for (const relay of relays) pairs.push(await startPair(programs, kind, relay.tcpAddr));
    for (const pair of pairs) await pair.round(WARMUP_BYTES, 300_000);
    const results: Record<string, Record<string, number>[]> = {};
    for (let rep = 0; rep < ROUNDS; rep++) {
      for (let k = 0; k < relays.length; k++) {
        const i = (rep + k) % relays.length;
        const relay = relays[i]!;
        const bytesBefore = await relayedBytes(relay);
        const cpuBefore = await cpuSeconds(relay.pid);
        const elapsedMs = await pairs[i]!.round(ROUND_BYTES, 600_000);
        const cpu = (await cpuSeconds(relay.pid)) - cpuBefore;
        const counted = (await relayedBytes(relay)) - bytesBefore;
        const perGib = cpu / (ROUND_BYTES / GIB);
        (results[relay.name] ??= []).push({
          cpuSeconds: round(cpu, 3),
          cpuSecondsPerGib: round(perGib, 3),
          mibPerSecond: round(ROUND_BYTES / MIB / (elapsedMs / 1000), 1),
          ...(Number.isNaN(counted) ? {} : { relayCountedBytes: counted }),
        });
        log(`cpu/GiB ${kind} via ${relay.name} round ${rep + 1}: ${round(perGib, 3)} s/GiB`);
      }
    }
    const summary: Record<string, unknown> = {};
    for (const relay of relays) {
      const rows = results[relay.name]!;
      const values = rows.map((r) => r.cpuSecondsPerGib!);
      summary[relay.name] = {
        median: median(values),
        range: [Math.min(...values), Math.max(...values)],
        mibPerSecondMedian: median(rows.map((r) => r.mibPerSecond!)),
        runs: rows,
      };
    }
    return summary;
  } finally {
    await Promise.all(pairs.map((p) => p.stop()));
  }
}

/** Figure 1: relay CPU-s per GiB for every client kind, all relays in one run. */
async function measureCpu(programs: Programs) {
  const relays = await startRelays(programs);
  try {
    const byKind: Record<string, unknown> = {};
    for (const kind of clientKinds) byKind[kind] = await cpuForKind(programs, relays, kind);
    return byKind;
  } finally {
    await Promise.all(relays.map((r) => r.stop()));
  }
}

const startedAt = performance.now();
const loadAtStart = Deno.loadavg().map((l) => round(l));
const programs = await buildPrograms(clientKinds.includes("rust"));
log(`built: ${JSON.stringify(programs.versions)}`);
const cpu = runs("cpu") ? await measureCpu(programs) : undefined;
const setup = runs("setup")
  ? await measureSetup({
    programs,
    relayNames,
    hopdDenoFlags,
    goBuffer,
    ...(baseline === undefined ? {} : { baseline }),
    rounds: SETUP_ROUNDS,
    log,
  })
  : undefined;
const reservations = runs("reservations")
  ? await measureReservations({
    programs,
    relayNames,
    hopdDenoFlags,
    goBuffer,
    steps: STEPS,
    holdMs: HOLD_MS,
    log,
  })
  : undefined;

const result = {
  bench: "relay_vs_peers",
  date: new Date().toISOString(),
  versions: programs.versions,
  conditions: {
    cpus: navigator.hardwareConcurrency,
    clockTicksPerSecond: await clockTicksPerSecond(),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: Deno.loadavg().map((l) => round(l)),
    transport: "TCP on 127.0.0.1, noise, yamux",
    relays: {
      hopd: "deno run -P=hopd main.ts run, every limit off (HOPD_LIMITS_*, HOPD_RELAY_* 0), " +
        "policy engine off",
      ...(baseline === undefined ? {} : { "hopd-base": `the same, run from ${baseline}` }),
      ...(bundledDir === undefined ? {} : {
        "hopd-bundled": "the same, run from scripts/bundle.sh's hopd.js (--config deno.json)",
      }),
      stock: "js-libp2p circuitRelayServer under Deno, limits off (bench/relay_vs_stock)",
      go: `go-libp2p relay.New, WithInfiniteLimits, counts unlimited, null resource and ` +
        `connection managers, copy buffer ${goBuffer ?? "2048 (default)"} bytes`,
    },
    cpuPlan: { roundBytes: ROUND_BYTES, rounds: ROUNDS, writeBytes: 64 * 1024 },
    wallSeconds: round((performance.now() - startedAt) / 1000, 1),
  },
  cpuSecondsPerGib: cpu,
  circuitSetup: setup,
  rssPerReservation: reservations,
};
const json = JSON.stringify(result, null, 2);
await Deno.mkdir(new URL("./.out/", import.meta.url), { recursive: true });
await Deno.writeTextFile(new URL("./.out/relay_vs_peers.json", import.meta.url), json + "\n");
console.log(json);
