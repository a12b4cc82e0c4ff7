// Micro benchmarks of the rate limiter (issue 4): check throughput for one hot key, many
// keys, a table held at its bound, the facade's checks, CIDR lookups and bandwidth flows.
// Each iteration runs a batch of BATCH checks, so checks/s = BATCH / (time per iteration).
//
//   deno bench -A bench/ratelimit_bench.ts
//
// Whole-process figures (bytes per key, heap at the bound, medians of checks/s):
// bench/ratelimit_memory.ts.

import {
  BandwidthShaper,
  BanList,
  CidrSet,
  createLimiter,
  KeyedLimiter,
  limiterConfigFrom,
  type RateSpec,
  type ResolvedLimiterConfig,
} from "../src/ratelimit/mod.ts";
import { defaultConfig } from "../src/config/mod.ts";
import { ManualClock } from "../src/clock/mod.ts";

const DEFAULT_LIMITER_CONFIG = limiterConfigFrom(defaultConfig());

const BATCH = 1_000;
const MANY_KEYS = 100_000;
const AT_BOUND_KEYS = 1_000_000;
const BOUND = 100_000;
/**
 * Every check is admitted (the benches measure the admitted path) and no bucket refills to
 * its burst, so no key is swept as idle between visits (the clock stands still in the facade
 * benches): what a busy table of active keys costs.
 */
const OPEN: RateSpec = { ratePerSecond: 1, burst: 1e12 };

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

const manyIps = Array.from({ length: MANY_KEYS }, (_, i) => ipOf(i * 7919));
const atBoundIps = Array.from({ length: AT_BOUND_KEYS }, (_, i) => ipOf(i * 104_729));

let nowMs = 0;
let cursor = 0;
let sink = 0;

// --- keyed tables -------------------------------------------------------------------------

const hotTable = new KeyedLimiter({ ratePerSecond: 1e6, burst: 1e12, maxKeys: BOUND });
Deno.bench({
  name: "KeyedLimiter.take: one hot key",
  group: "keyed",
  baseline: true,
  fn() {
    for (let i = 0; i < BATCH; i++) sink += hotTable.take("192.0.2.1", nowMs++) ? 1 : 0;
  },
});

const manyTable = new KeyedLimiter({ ratePerSecond: 1, burst: 1e9, maxKeys: BOUND * 2 });
// Tables are filled before timing, so the figures are steady state, not the first inserts.
for (const ip of manyIps) manyTable.take(ip, nowMs);
Deno.bench({
  name: "KeyedLimiter.take: 100k keys round robin",
  group: "keyed",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += manyTable.take(manyIps[cursor]!, nowMs) ? 1 : 0;
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});

// 1M distinct keys through a 100k table: every check past warm-up inserts and evicts.
const boundTable = new KeyedLimiter({ ratePerSecond: 1, burst: 1e9, maxKeys: BOUND });
let boundCursor = 0;
Deno.bench({
  name: "KeyedLimiter.take: 1M keys, table at its 100k bound (insert + evict)",
  group: "keyed",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += boundTable.take(atBoundIps[boundCursor]!, nowMs) ? 1 : 0;
      boundCursor = boundCursor + 1 === AT_BOUND_KEYS ? 0 : boundCursor + 1;
    }
  },
});

const bareMap = new Map<string, number>();
for (const ip of manyIps) bareMap.set(ip, 0);
Deno.bench({
  name: "reference: bare Map.get + set, 100k keys",
  group: "keyed",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      const key = manyIps[cursor]!;
      bareMap.set(key, (bareMap.get(key) ?? 0) + 1);
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});

// --- facade ---------------------------------------------------------------------------------

// The facade's clock stands still (see the module doc).
const clock = new ManualClock(nowMs);
const openConfig: ResolvedLimiterConfig = {
  ...DEFAULT_LIMITER_CONFIG,
  connectionsPerIp: OPEN,
  connectionsPerSubnet: OPEN,
  connectionsGlobal: OPEN,
  reservationsPerPeer: OPEN,
  reservationsPerIp: OPEN,
  reservationsGlobal: OPEN,
  circuitsPerPeer: OPEN,
  circuitsGlobal: OPEN,
  httpRequestsPerIp: OPEN,
};
const limiter = createLimiter(openConfig, { clock, bans: new BanList({ clock }) });
const bannedLimiter = (() => {
  const bans = new BanList({ clock });
  for (let i = 0; i < 1_000; i++) {
    bans.ban({ kind: "cidr", value: `203.${i >> 8}.${i & 255}.0/24` });
  }
  for (let i = 0; i < 1_000; i++) bans.ban({ kind: "peer", value: `12D3KooWBanned${i}` });
  return createLimiter({
    ...openConfig,
    access: {
      denyPeers: ["12D3KooWDenied"],
      denyCidrs: ["198.51.100.0/24", "2001:db8:bad::/48"],
      allowPeers: ["12D3KooWMine"],
      allowCidrs: ["10.0.0.0/8"],
    },
  }, { clock, bans });
})();

for (const ip of manyIps) {
  limiter.checkConnection(ip);
  bannedLimiter.checkConnection(ip);
}

Deno.bench({
  name: "checkConnection: one hot IP (per-IP, per-subnet, global)",
  group: "facade",
  baseline: true,
  fn() {
    for (let i = 0; i < BATCH; i++) sink += limiter.checkConnection("192.0.2.1").ok ? 1 : 0;
  },
});

Deno.bench({
  name: "checkConnection: 100k IPs round robin",
  group: "facade",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += limiter.checkConnection(manyIps[cursor]!).ok ? 1 : 0;
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});

Deno.bench({
  name: "checkConnection: 100k IPs, 1k CIDR bans + deny/allow lists",
  group: "facade",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += bannedLimiter.checkConnection(manyIps[cursor]!).ok ? 1 : 0;
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});

const peers = Array.from(
  { length: 10_000 },
  (_, i) => `12D3KooW${i.toString(36).padStart(44, "x")}`,
);
for (const p of peers) {
  bannedLimiter.checkCircuit(p, undefined, p);
  limiter.checkReservation(p, undefined);
}
for (const ip of manyIps) limiter.checkReservation(peers[0]!, ip);

Deno.bench({
  name: "checkCircuit: 10k source peers, 1k peer bans",
  group: "facade",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      const p = peers[cursor % 10_000]!;
      sink += bannedLimiter.checkCircuit(p, manyIps[cursor]!, p).ok ? 1 : 0;
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});

Deno.bench({
  name: "checkReservation: 10k peers",
  group: "facade",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += limiter.checkReservation(peers[cursor % 10_000]!, manyIps[cursor]!).ok ? 1 : 0;
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});

// --- CIDR ---------------------------------------------------------------------------------

const cidrs = new CidrSet();
for (let i = 0; i < 10_000; i++) cidrs.add(`${(i % 200) + 1}.${i >> 8 & 255}.${i & 255}.0/24`);
cidrs.add("10.0.0.0/8");
cidrs.add("2001:db8::/32");
const v6Ips = Array.from({ length: 1_000 }, (_, i) => `2001:db${i % 10}::${i.toString(16)}`);
Deno.bench({
  name: "CidrSet.has: IPv4, 10k blocks, 100k addresses",
  group: "cidr",
  baseline: true,
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += cidrs.has(manyIps[cursor]!) ? 1 : 0;
      cursor = cursor + 1 === MANY_KEYS ? 0 : cursor + 1;
    }
  },
});
Deno.bench({
  name: "CidrSet.has: IPv6",
  group: "cidr",
  fn() {
    for (let i = 0; i < BATCH; i++) sink += cidrs.has(v6Ips[i]!) ? 1 : 0;
  },
});

// --- bandwidth ----------------------------------------------------------------------------

const unlimitedFlow = new BandwidthShaper({
  perCircuitBytesPerSecond: 0,
  perPeerBytesPerSecond: 0,
  globalBytesPerSecond: 0,
  burstMs: 100,
}).openFlow("p");
const shaper = new BandwidthShaper({
  perCircuitBytesPerSecond: 1e12,
  perPeerBytesPerSecond: 1e12,
  globalBytesPerSecond: 1e12,
  burstMs: 100,
});
const shapedFlows = Array.from({ length: 64 }, (_, i) => shaper.openFlow(`peer${i % 16}`));
Deno.bench({
  name: "flow.take: unlimited (no caps)",
  group: "bandwidth",
  baseline: true,
  fn() {
    for (let i = 0; i < BATCH; i++) sink += unlimitedFlow.take(nowMs, 16_384);
  },
});
Deno.bench({
  name: "flow.take: all three caps, 64 flows of 16 peers",
  group: "bandwidth",
  fn() {
    for (let i = 0; i < BATCH; i++) sink += shapedFlows[i & 63]!.take(nowMs++, 16_384);
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
