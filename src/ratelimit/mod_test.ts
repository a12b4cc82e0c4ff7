import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ManualClock } from "../clock/mod.ts";
import {
  BanList,
  createLimiter,
  LIMIT_KEYS,
  limiterConfigFrom,
  type RateSpec,
  type ResolvedLimiterConfig,
  UNLIMITED_FLOW,
} from "./mod.ts";

const OFF: RateSpec = { ratePerSecond: 0, burst: 0 };
const NO_ACCESS = { denyPeers: [], denyCidrs: [], allowPeers: [], allowCidrs: [] };

/** Every limit off, then the overrides. */
function config(overrides: Partial<ResolvedLimiterConfig> = {}): ResolvedLimiterConfig {
  return {
    ...limiterConfigFrom(defaultConfig()),
    connectionsPerIp: OFF,
    connectionsPerSubnet: OFF,
    connectionsGlobal: OFF,
    reservationsPerPeer: OFF,
    reservationsPerIp: OFF,
    reservationsGlobal: OFF,
    circuitsPerPeer: OFF,
    circuitsGlobal: OFF,
    httpRequestsPerIp: OFF,
    access: NO_ACCESS,
    ...overrides,
  };
}

function setup(overrides: Partial<ResolvedLimiterConfig> = {}, registry?: MetricsRegistry) {
  const clock = new ManualClock();
  const bans = new BanList({ clock });
  const limiter = createLimiter(
    config(overrides),
    registry ? { clock, bans, registry } : { clock, bans },
  );
  return { clock, bans, limiter };
}

Deno.test("checkConnection() refuses an IP over its rate with rate_ip and a retry time", () => {
  const { limiter, clock } = setup({ connectionsPerIp: { ratePerSecond: 2, burst: 2 } });
  assert.deepEqual(limiter.checkConnection("192.0.2.1"), { ok: true });
  assert.deepEqual(limiter.checkConnection("192.0.2.1"), { ok: true });
  assert.deepEqual(limiter.checkConnection("192.0.2.1"), {
    ok: false,
    reason: "rate_ip",
    retryAfterMs: 500,
  });
  // IPv4-mapped IPv6 is the same IPv4 peer.
  assert.equal(limiter.checkConnection("::ffff:192.0.2.1").ok, false);
  assert.equal(limiter.checkConnection("192.0.2.2").ok, true);
  clock.advance(500);
  assert.equal(limiter.checkConnection("192.0.2.1").ok, true);
});

Deno.test("checkConnection() counts a subnet together and gives back the per-IP token", () => {
  const { limiter } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 2 },
    connectionsPerSubnet: { ratePerSecond: 1, burst: 3 },
  });
  assert.equal(limiter.checkConnection("10.0.0.1").ok, true);
  assert.equal(limiter.checkConnection("10.0.0.2").ok, true);
  assert.equal(limiter.checkConnection("10.0.0.3").ok, true);
  const refused = limiter.checkConnection("10.0.0.4");
  assert.equal(refused.ok === false && refused.reason, "rate_subnet");
  assert.equal(limiter.checkConnection("10.0.1.4").ok, true); // another /24
  // 10.0.0.4 was refused by its subnet, so its own bucket is still full.
  limiter.setLimit("connections_per_subnet.rate", 0);
  assert.equal(limiter.checkConnection("10.0.0.4").ok, true);
  assert.equal(limiter.checkConnection("10.0.0.4").ok, true);
  assert.equal(limiter.checkConnection("10.0.0.4").ok, false);
});

Deno.test("checkConnection() groups IPv6 by /48", () => {
  const { limiter } = setup({ connectionsPerSubnet: { ratePerSecond: 1, burst: 2 } });
  assert.equal(limiter.checkConnection("2001:db8:1:1::1").ok, true);
  assert.equal(limiter.checkConnection("2001:db8:1:2::1").ok, true);
  assert.equal(limiter.checkConnection("2001:db8:1:ffff::9").ok, false);
  assert.equal(limiter.checkConnection("2001:db8:2::1").ok, true);
});

Deno.test("checkConnection() refuses past the global rate with rate_global", () => {
  const { limiter } = setup({ connectionsGlobal: { ratePerSecond: 10, burst: 3 } });
  for (let i = 0; i < 3; i++) assert.equal(limiter.checkConnection(`10.0.${i}.1`).ok, true);
  assert.deepEqual(limiter.checkConnection("10.0.9.1"), {
    ok: false,
    reason: "rate_global",
    retryAfterMs: 100,
  });
});

Deno.test("checks refuse banned and denied parties first, bans before deny", () => {
  const { limiter, bans } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 1 },
    access: { ...NO_ACCESS, denyPeers: ["P-denied"], denyCidrs: ["203.0.113.0/24"] },
  });
  bans.ban({ kind: "cidr", value: "198.51.100.0/24" });
  bans.ban({ kind: "cidr", value: "203.0.113.7" });
  bans.ban({ kind: "peer", value: "P-banned" });
  const reason = (r: { ok: boolean; reason?: string }) => r.ok ? "ok" : r.reason;
  assert.equal(reason(limiter.checkConnection("198.51.100.5")), "banned");
  assert.equal(reason(limiter.checkConnection("203.0.113.7")), "banned");
  assert.equal(reason(limiter.checkConnection("203.0.113.8")), "denied");
  assert.equal(reason(limiter.checkPeer("P-banned", "192.0.2.1")), "banned");
  assert.equal(reason(limiter.checkPeer("P-denied", "192.0.2.1")), "denied");
  assert.equal(reason(limiter.checkPeer("P-ok", "192.0.2.1")), "ok");
  assert.equal(reason(limiter.checkReservation("P-banned", "192.0.2.1")), "banned");
  assert.equal(reason(limiter.checkCircuit("P-ok", "192.0.2.1", "P-banned")), "banned");
  assert.equal(reason(limiter.checkCircuit("P-denied", "192.0.2.1", "P-ok")), "denied");
  assert.equal(reason(limiter.checkHttp("198.51.100.1")), "banned");
  // A refused party took no token: once unbanned it still has its burst.
  bans.unban("cidr", "198.51.100.0/24");
  assert.equal(reason(limiter.checkConnection("198.51.100.5")), "ok");
});

Deno.test("a ban with ttlMs refuses its peer until the limiter's clock reaches its expiry", () => {
  const { limiter, bans, clock } = setup();
  bans.ban({ kind: "peer", value: "P", ttlMs: 2_000 });
  assert.equal(limiter.checkReservation("P", "192.0.2.1").ok, false);
  clock.advance(1_999);
  assert.equal(limiter.checkPeer("P", "192.0.2.1").ok, false);
  clock.advance(1);
  assert.equal(limiter.checkReservation("P", "192.0.2.1").ok, true);
  assert.equal(bans.size(), 0);
});

Deno.test("allowlisted peers and IPs skip rate limits but not bans", () => {
  const { limiter, bans } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 1 },
    reservationsPerPeer: { ratePerSecond: 1, burst: 1 },
    circuitsPerPeer: { ratePerSecond: 1, burst: 1 },
    circuitsGlobal: { ratePerSecond: 1, burst: 1 },
    access: { ...NO_ACCESS, allowPeers: ["Mine"], allowCidrs: ["10.0.0.0/8"] },
  });
  for (let i = 0; i < 100; i++) {
    assert.equal(limiter.checkConnection("10.1.1.1").ok, true);
    assert.equal(limiter.checkReservation("Mine", "192.0.2.1").ok, true);
    assert.equal(limiter.checkCircuit("Mine", "192.0.2.1", "Other").ok, true);
  }
  assert.equal(limiter.isAllowlisted("Mine"), true);
  assert.equal(limiter.isAllowlisted(undefined, "10.2.3.4"), true);
  assert.equal(limiter.isAllowlisted("Other", "192.0.2.1"), false);
  bans.ban({ kind: "peer", value: "Mine" });
  assert.equal(limiter.isAllowlisted("Mine"), false);
  assert.equal(limiter.checkCircuit("Mine", "192.0.2.1", "Other").ok, false);
});

Deno.test("checkReservation() applies per-peer, per-IP and global rates", () => {
  const { limiter } = setup({
    reservationsPerPeer: { ratePerSecond: 1, burst: 1 },
    reservationsPerIp: { ratePerSecond: 1, burst: 2 },
    reservationsGlobal: { ratePerSecond: 1, burst: 3 },
  });
  const reason = (r: { ok: boolean; reason?: string }) => r.ok ? "ok" : r.reason;
  assert.equal(reason(limiter.checkReservation("a", "192.0.2.1")), "ok");
  assert.equal(reason(limiter.checkReservation("a", "192.0.2.1")), "rate_peer");
  assert.equal(reason(limiter.checkReservation("b", "192.0.2.1")), "ok");
  assert.equal(reason(limiter.checkReservation("c", "192.0.2.1")), "rate_ip");
  assert.equal(reason(limiter.checkReservation("d", "192.0.2.2")), "ok");
  assert.equal(reason(limiter.checkReservation("e", "192.0.2.3")), "rate_global");
});

Deno.test("checkCircuit() applies per-source-peer and global rates; checkHttp() per IP", () => {
  const { limiter } = setup({
    circuitsPerPeer: { ratePerSecond: 1, burst: 2 },
    circuitsGlobal: { ratePerSecond: 1, burst: 3 },
    httpRequestsPerIp: { ratePerSecond: 1, burst: 1 },
  });
  const reason = (r: { ok: boolean; reason?: string }) => r.ok ? "ok" : r.reason;
  assert.equal(reason(limiter.checkCircuit("a", "192.0.2.1", "x")), "ok");
  assert.equal(reason(limiter.checkCircuit("a", "192.0.2.1", "y")), "ok");
  assert.equal(reason(limiter.checkCircuit("a", "192.0.2.1", "z")), "rate_peer");
  assert.equal(reason(limiter.checkCircuit("b", undefined, "x")), "ok");
  assert.equal(reason(limiter.checkCircuit("c", undefined, "x")), "rate_global");
  assert.equal(reason(limiter.checkHttp("127.0.0.1")), "ok");
  assert.equal(reason(limiter.checkHttp("127.0.0.1")), "rate_ip");
  assert.equal(reason(limiter.checkHttp("::1")), "ok");
});

Deno.test("checks never throw on input that is not an IP", () => {
  const { limiter } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 1 },
    connectionsPerSubnet: { ratePerSecond: 1, burst: 5 },
    access: { ...NO_ACCESS, denyCidrs: ["10.0.0.0/8"] },
  });
  for (const junk of ["", "/memory/x", ":::", "999.1.1.1", "a".repeat(10_000)]) {
    assert.equal(limiter.checkConnection(junk).ok, true);
    assert.equal(limiter.checkHttp(junk).ok, true);
    assert.equal(limiter.checkReservation(junk, junk).ok, true);
  }
});

Deno.test("setThrottle() scales every rate and lapses after forMs", () => {
  const { limiter, clock } = setup({
    connectionsPerIp: { ratePerSecond: 10, burst: 10 },
    bandwidth: {
      perCircuitBytesPerSecond: 1_000_000,
      perPeerBytesPerSecond: 0,
      globalBytesPerSecond: 0,
      burstMs: 100,
    },
  });
  limiter.setThrottle(0.5, 60_000);
  assert.equal(limiter.throttleFactor(), 0.5);
  let allowed = 0;
  while (limiter.checkConnection("192.0.2.1").ok) allowed++;
  assert.equal(allowed, 5);
  const flow = limiter.openFlow("p");
  assert.equal(flow.take(clock.nowMs(), 50_000), 50_000); // the 100 ms burst at 0.5 MB/s
  assert.equal(flow.take(clock.nowMs(), 50_000), 0);
  assert.equal(flow.retryAfterMs, 100);
  clock.advance(60_000);
  assert.equal(limiter.throttleFactor(), 1);
  allowed = 0;
  while (limiter.checkConnection("192.0.2.9").ok) allowed++;
  assert.equal(allowed, 10);
  assert.throws(() => limiter.setThrottle(0), RangeError);
  assert.throws(() => limiter.setThrottle(1.5), /factor.*1\.5/);
  assert.throws(() => limiter.setThrottle(0.5, -1), /forMs/);
});

Deno.test("setLimit() changes one named limit; limits() reports them all", () => {
  const { limiter } = setup({ circuitsPerPeer: { ratePerSecond: 1, burst: 1 } });
  assert.deepEqual(Object.keys(limiter.limits()).sort(), [...LIMIT_KEYS].sort());
  assert.equal(limiter.checkCircuit("a", undefined, "b").ok, true);
  assert.equal(limiter.checkCircuit("a", undefined, "b").ok, false);
  limiter.setLimit("circuits_per_peer.burst", 3);
  limiter.setLimit("bandwidth.global", 5_000_000);
  limiter.setLimit("max_tracked_keys", 50);
  assert.equal(limiter.limits()["circuits_per_peer.burst"], 3);
  assert.equal(limiter.limits()["bandwidth.global"], 5_000_000);
  assert.equal(limiter.limits().max_tracked_keys, 50);
  assert.equal(limiter.shaper.caps.globalBytesPerSecond, 5_000_000);
  assert.throws(
    () => limiter.setLimit("circuits.per_peer", 1),
    /'circuits\.per_peer'.*not a known limit/,
  );
  assert.throws(
    () => limiter.setLimit("circuits_per_peer.rate", -1),
    /circuits_per_peer\.rate.*-1/,
  );
  assert.throws(() => limiter.setLimit("circuits_per_peer.rate", NaN), RangeError);
  assert.throws(() => limiter.setLimit("max_tracked_keys", 1.5), /positive integer/);
});

Deno.test("reload() replaces limits and access lists and keeps bucket state", () => {
  const { limiter } = setup({ connectionsPerIp: { ratePerSecond: 1, burst: 2 } });
  limiter.checkConnection("192.0.2.1");
  limiter.checkConnection("192.0.2.1");
  assert.equal(limiter.checkConnection("192.0.2.1").ok, false);
  limiter.reload(config({
    connectionsPerIp: { ratePerSecond: 1, burst: 5 },
    access: { ...NO_ACCESS, denyCidrs: ["198.51.100.0/24"] },
  }));
  // The empty bucket stayed empty: a reload is no way to reset an abuser's budget.
  assert.equal(limiter.checkConnection("192.0.2.1").ok, false);
  assert.equal(limiter.limits()["connections_per_ip.burst"], 5);
  const denied = limiter.checkConnection("198.51.100.1");
  assert.equal(denied.ok === false && denied.reason, "denied");
  assert.throws(
    () => limiter.reload(config({ access: { ...NO_ACCESS, allowCidrs: ["nope"] } })),
    /access\.allowCidrs\[0\].*nope/,
  );
  // A failed reload leaves the previous config in force.
  assert.equal(limiter.checkConnection("198.51.100.1").ok, false);
});

Deno.test("createLimiter() throws a RangeError naming a bad config value", () => {
  const clock = new ManualClock();
  const bans = new BanList({ clock });
  assert.throws(
    () =>
      createLimiter(config({ connectionsGlobal: { ratePerSecond: -5, burst: 0 } }), {
        clock,
        bans,
      }),
    /connectionsGlobal\.ratePerSecond.*-5/,
  );
  assert.throws(
    () => createLimiter(config({ subnetPrefixV6: 129 }), { clock, bans }),
    /subnetPrefixV6/,
  );
  assert.throws(
    () => createLimiter(config({ maxTrackedKeys: 0 }), { clock, bans }),
    /maxTrackedKeys/,
  );
});

Deno.test("openFlow() is free for allowlisted peers and when bandwidth is unlimited", () => {
  const free = setup();
  assert.equal(free.limiter.openFlow("p"), UNLIMITED_FLOW);
  const { limiter } = setup({
    bandwidth: {
      perCircuitBytesPerSecond: 0,
      perPeerBytesPerSecond: 1_000,
      globalBytesPerSecond: 0,
      burstMs: 100,
    },
    access: { ...NO_ACCESS, allowPeers: ["Mine"] },
  });
  assert.equal(limiter.openFlow("Mine"), UNLIMITED_FLOW);
  assert.notEqual(limiter.openFlow("Other"), UNLIMITED_FLOW);
});

Deno.test("1,000,000 distinct IPs keep every table within maxTrackedKeys", () => {
  const { limiter } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 5 },
    connectionsPerSubnet: { ratePerSecond: 1, burst: 50 },
    maxTrackedKeys: 5_000,
  });
  let peak = 0;
  for (let i = 0; i < 1_000_000; i++) {
    limiter.checkConnection(`${(i >>> 24) + 1}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`);
    if (i % 997 === 0) {
      const keys = limiter.trackedKeys();
      peak = Math.max(peak, keys.connections_per_ip!, keys.connections_per_subnet!);
    }
  }
  assert.ok(peak <= 5_000, `peak ${peak}`);
  // Full (the few below the bound are buckets refilled by a refund and swept as idle).
  assert.ok(limiter.trackedKeys().connections_per_ip! > 4_000);
});

Deno.test("metrics are published at scrape time", async () => {
  const registry = new MetricsRegistry();
  const { limiter, bans, clock } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 1 },
    bandwidth: {
      perCircuitBytesPerSecond: 1_000,
      perPeerBytesPerSecond: 0,
      globalBytesPerSecond: 0,
      burstMs: 100,
    },
  }, registry);
  limiter.checkConnection("192.0.2.1");
  limiter.checkConnection("192.0.2.1");
  limiter.checkConnection("192.0.2.1");
  bans.ban({ kind: "peer", value: "x" });
  limiter.checkPeer("x");
  limiter.setThrottle(0.25);
  const flow = limiter.openFlow("p");
  flow.take(clock.nowMs(), 16_384); // the bucket at 250 B/s: its 16 KiB minimum
  flow.take(clock.nowMs(), 500); // refused: 500 B take 2 s to refill
  const text = await registry.metrics();
  assert.match(text, /hopd_rate_limited_total\{limiter="connection",reason="rate_ip"\} 2/);
  assert.match(text, /hopd_rate_limited_total\{limiter="peer",reason="banned"\} 1/);
  assert.match(text, /hopd_bans_active 1/);
  assert.match(text, /hopd_throttle_factor 0\.25/);
  assert.match(text, /hopd_bandwidth_throttled_seconds_total 2/);
  assert.match(text, /hopd_ratelimit_tracked_keys\{limiter="connections_per_ip"\} 1/);
  // A second scrape does not count twice.
  assert.match(await registry.metrics(), /reason="rate_ip"\} 2/);
});

Deno.test("sweep() drops idle buckets; reload() with a new subnet prefix starts subnets afresh", () => {
  const { limiter, clock } = setup({
    connectionsPerIp: { ratePerSecond: 1, burst: 2 },
    connectionsPerSubnet: { ratePerSecond: 1, burst: 2 },
  });
  limiter.checkConnection("10.0.0.1");
  limiter.checkConnection("10.0.0.2");
  assert.equal(limiter.checkConnection("10.0.0.3").ok, false);
  assert.deepEqual(
    [limiter.trackedKeys().connections_per_ip, limiter.trackedKeys().connections_per_subnet],
    [3, 1],
  );
  limiter.reload(config({
    connectionsPerIp: { ratePerSecond: 1, burst: 2 },
    connectionsPerSubnet: { ratePerSecond: 1, burst: 2 },
    subnetPrefixV4: 16,
  }));
  assert.equal(limiter.trackedKeys().connections_per_subnet, 0);
  assert.equal(limiter.checkConnection("10.0.9.9").ok, true);
  clock.advance(10_000);
  assert.equal(limiter.sweep(), 4);
  assert.equal(limiter.trackedKeys().connections_per_ip, 0);
});
