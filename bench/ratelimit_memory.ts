// Whole-process figures for the rate limiter (issue 4): bytes per tracked key, heap with a
// table at its bound after 1,000,000 distinct keys, the bound holding, and checks/s (median
// of --runs timed loops on one core).
//
//   deno run -A --v8-flags=--expose-gc bench/ratelimit_memory.ts [--runs 5]
//
// Prints one JSON document and compares each figure with its goal.

import {
  BanList,
  createLimiter,
  KeyedLimiter,
  limiterConfigFrom,
  type RateSpec,
} from "../src/ratelimit/mod.ts";
import { defaultConfig } from "../src/config/mod.ts";
import { ManualClock } from "../src/clock/mod.ts";

const DEFAULT_LIMITER_CONFIG = limiterConfigFrom(defaultConfig());

const GOALS = { checksPerSecond: 5_000_000 } as const;
const BOUND = 100_000;
const DISTINCT_KEYS = 1_000_000;

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with --v8-flags=--expose-gc");
  Deno.exit(2);
}

function heapBytes(): number {
  gc!();
  gc!();
  const usage = Deno.memoryUsage();
  // Typed array backing stores are "external" to the V8 heap.
  return usage.heapUsed + usage.external;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A distinct IPv4 address as a flat string, as addresses decoded from a socket are (a template
 * literal would make a cons string, slower to read and to hash).
 */
function ipOf(i: number): string {
  return decoder.decode(
    encoder.encode(`${(i >>> 24) + 1}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// --- memory: bytes per key, the bound under 1M keys ------------------------------------------

function memoryFigures() {
  const before = heapBytes();
  const table = new KeyedLimiter({ ratePerSecond: 1, burst: 10, maxKeys: BOUND });
  // Keys are made on the fly, so the table holds the only reference to each string, as it
  // does with the remote addresses it is given.
  for (let i = 0; i < BOUND; i++) table.take(ipOf(i * 7919), 0);
  const atBound = heapBytes();
  const bytesPerKey = (atBound - before) / table.size;
  let peak = 0;
  for (let i = 0; i < DISTINCT_KEYS; i++) {
    table.take(ipOf(1_000_003 * i + 17), 0);
    if (table.size > peak) peak = table.size;
  }
  const after = heapBytes();
  // Use the table after the last measurement, or V8 may collect it before.
  const finalKeys = table.size;

  const clock = new ManualClock(0);
  // Defaults, but no global connection rate: with it, the 2,001st check at one instant is
  // refused globally and the per-IP tables would never see the flood.
  const limiter = createLimiter({
    ...DEFAULT_LIMITER_CONFIG,
    connectionsGlobal: { ratePerSecond: 0, burst: 0 },
  }, { clock, bans: new BanList({ clock }) });
  const facadeBefore = heapBytes();
  let facadePeak = 0;
  for (let i = 0; i < DISTINCT_KEYS; i++) {
    limiter.checkConnection(ipOf(i * 7919 + 3));
    if (i % 1_000 === 0) {
      const keys = limiter.trackedKeys();
      facadePeak = Math.max(facadePeak, keys.connections_per_ip!, keys.connections_per_subnet!);
    }
  }
  const facadeAfter = heapBytes();
  const facadeFinal = limiter.trackedKeys();
  return {
    keyedTable: {
      maxKeys: BOUND,
      bytesPerTrackedKey: Math.round(bytesPerKey),
      heapAtBoundMb: +((atBound - before) / 1e6).toFixed(1),
      distinctKeys: DISTINCT_KEYS,
      peakTrackedKeys: peak,
      finalTrackedKeys: finalKeys,
      heapAfterDistinctKeysMb: +((after - before) / 1e6).toFixed(1),
      boundHolds: peak <= BOUND,
    },
    facadeDefaultsNoGlobalRate: {
      distinctIps: DISTINCT_KEYS,
      peakTrackedKeysPerTable: facadePeak,
      finalTrackedKeys: facadeFinal,
      heapAfterMb: +((facadeAfter - facadeBefore) / 1e6).toFixed(1),
      boundHolds: facadePeak <= DEFAULT_LIMITER_CONFIG.maxTrackedKeys,
    },
  };
}

// --- throughput -------------------------------------------------------------------------------

function checksPerSecond(runs: number, checks: number, loop: (n: number) => number): number {
  loop(checks); // warm up
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    loop(checks);
    rates.push(checks / ((performance.now() - t0) / 1000));
  }
  return Math.round(median(rates));
}

function throughputFigures(runs: number) {
  const many = Array.from({ length: 100_000 }, (_, i) => ipOf(i * 7919));
  const distinct = Array.from({ length: DISTINCT_KEYS }, (_, i) => ipOf(i * 104_729));
  const N = 2_000_000;
  let now = 0;
  let sink = 0;
  const hot = new KeyedLimiter({ ratePerSecond: 1e6, burst: 1e12, maxKeys: BOUND });
  const manyTable = new KeyedLimiter({ ratePerSecond: 1, burst: 1e12, maxKeys: 200_000 });
  const bounded = new KeyedLimiter({ ratePerSecond: 1, burst: 1e12, maxKeys: BOUND });
  const open: RateSpec = { ratePerSecond: 1, burst: 1e12 };
  // Bursts of 1e12: the facade's buckets never run dry, so its clock may stand still.
  const clock = new ManualClock(0);
  const limiter = createLimiter({
    ...DEFAULT_LIMITER_CONFIG,
    connectionsPerIp: open,
    connectionsPerSubnet: open,
    connectionsGlobal: open,
  }, { clock, bans: new BanList({ clock }) });
  const result = {
    keyedHotKey: checksPerSecond(runs, N, (n) => {
      for (let i = 0; i < n; i++) sink += hot.take("192.0.2.1", now++) ? 1 : 0;
      return sink;
    }),
    keyed100kKeys: checksPerSecond(runs, N, (n) => {
      for (let i = 0; i < n; i++) sink += manyTable.take(many[i % 100_000]!, now) ? 1 : 0;
      return sink;
    }),
    keyedAtBound1MKeys: checksPerSecond(runs, DISTINCT_KEYS, (n) => {
      for (let i = 0; i < n; i++) sink += bounded.take(distinct[i]!, now) ? 1 : 0;
      return sink;
    }),
    checkConnectionHotIp: checksPerSecond(runs, N, (n) => {
      for (let i = 0; i < n; i++) sink += limiter.checkConnection("192.0.2.1").ok ? 1 : 0;
      return sink;
    }),
    checkConnection100kIps: checksPerSecond(runs, N, (n) => {
      for (let i = 0; i < n; i++) sink += limiter.checkConnection(many[i % 100_000]!).ok ? 1 : 0;
      return sink;
    }),
  };
  if (sink === -1) console.log(sink);
  return result;
}

const runs = arg("runs", 5);
const memory = memoryFigures();
const throughput = throughputFigures(runs);
console.log(JSON.stringify(
  {
    runs,
    memory,
    checksPerSecondMedian: throughput,
    goals: {
      checksPerSecond: GOALS.checksPerSecond,
      keyedHotKeyMet: throughput.keyedHotKey >= GOALS.checksPerSecond,
      keyed100kKeysMet: throughput.keyed100kKeys >= GOALS.checksPerSecond,
      checkConnectionHotIpMet: throughput.checkConnectionHotIp >= GOALS.checksPerSecond,
      boundHolds: memory.keyedTable.boundHolds && memory.facadeDefaultsNoGlobalRate.boundHolds,
    },
  },
  null,
  2,
));
