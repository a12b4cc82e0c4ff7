import assert from "node:assert/strict";
import { ManualClock } from "../clock/mod.ts";
import { MetricsRegistry } from "../metrics/mod.ts";
import { SnapshotBuilder } from "./policy_snapshot.ts";
import { relayedBytesCounter } from "./_test_peers.ts";

/** A ManualClock whose monotonic reading runs `lateMs` ahead: its timers fire that late. */
class LateClock extends ManualClock {
  lateMs = 0;
  override monotonicMs(): number {
    return super.monotonicMs() + this.lateMs;
  }
}

function rig() {
  const registry = new MetricsRegistry();
  const bytes = relayedBytesCounter(registry);
  const refusals = registry.counter({
    name: "hopd_refusals_total",
    help: "test",
    labelNames: ["reason"] as const,
  });
  const rejections = registry.counter({
    name: "hopd_rate_limited_total",
    help: "test",
    labelNames: ["limiter", "reason"] as const,
  });
  const setup = registry.histogram({
    name: "hopd_circuit_setup_seconds",
    help: "test",
    buckets: [0.1, 0.5, 1],
  });
  const clock = new LateClock(1_000_000);
  const builder = new SnapshotBuilder({
    registry,
    relay: {
      stats: () => ({ reservations: 4, circuits: 3 }) as never,
      circuits: () => [
        { source: "a", target: "t", bytesSrcToDst: 100, bytesDstToSrc: 50, ageSeconds: 1 },
        { source: "b", target: "t", bytesSrcToDst: 500, bytesDstToSrc: 0, ageSeconds: 1 },
        { source: "a", target: "u", bytesSrcToDst: 10, bytesDstToSrc: 0, ageSeconds: 1 },
      ],
    },
    peerId: "12D3KooWSelf",
    startedAtMs: 940_000,
    draining: () => false,
    connections: () => 7,
    throttleFactor: () => 1,
    bans: () => 2,
    limits: () =>
      Promise.resolve({
        maxReservations: 100,
        maxCircuits: 50,
        maxConnections: 1_000,
        bandwidthGlobalBytesPerSecond: 0,
        bandwidthPerPeerBytesPerSecond: 0,
        bandwidthPerCircuitBytesPerSecond: 0,
        capacityBandwidthBytesPerSecond: 0,
        memoryMaxBytes: 0,
      }),
    clock,
  });
  return { builder, bytes, refusals, rejections, setup, clock };
}

Deno.test("SnapshotBuilder turns the registry's counters into per-tick deltas and rates", async () => {
  const r = rig();
  r.bytes.inc({ direction: "src_to_dst" }, 1_000);
  r.refusals.inc({ reason: "no_reservation" }, 2);
  await r.builder.build(1);
  r.clock.advance(2_000);
  r.bytes.inc({ direction: "src_to_dst" }, 4_000);
  r.bytes.inc({ direction: "dst_to_src" }, 1_000);
  r.refusals.inc({ reason: "no_reservation" }, 3);
  r.rejections.inc({ limiter: "connection", reason: "ip_rate" }, 5);
  const snapshot = await r.builder.build(2);
  assert.equal(snapshot.now, 1_002_000);
  assert.equal(snapshot.tick, 2);
  assert.deepEqual(snapshot.node, {
    peerId: "12D3KooWSelf",
    uptimeSeconds: 62,
    draining: false,
    connections: 7,
  });
  assert.equal(snapshot.relay.bytesPerSecondIn, 2_000);
  assert.equal(snapshot.relay.bytesPerSecondOut, 500);
  assert.deepEqual(snapshot.relay.refusals, { no_reservation: 3 });
  assert.equal(snapshot.relay.refusalsTotal, 5);
  assert.deepEqual(snapshot.limiter.rejections, { "connection.ip_rate": 5 });
  assert.deepEqual(snapshot.limiter.topTalkers, [{ peer: "b", bytes: 500 }, {
    peer: "a",
    bytes: 160,
  }]);
  assert.equal(snapshot.limits.maxReservations, 100);
  assert.ok(snapshot.process.rssBytes > 0 && snapshot.process.cpuPercent >= 0);
});

Deno.test("SnapshotBuilder interpolates setup p50/p99 inside buckets like histogram_quantile", async () => {
  const r = rig();
  // 4 in (0, 0.1], 4 in (0.1, 0.5], 2 in (0.5, 1]: ten setups this tick.
  for (const seconds of [0.05, 0.05, 0.05, 0.05, 0.3, 0.3, 0.3, 0.3, 0.8, 0.8]) {
    r.setup.observe(seconds);
  }
  const first = await r.builder.build(1);
  // p50: rank 5 is the first of the (0.1, 0.5] bucket's four: 0.1 + 0.4 × 1/4 = 0.2 s.
  // p99: rank 9.9 is 0.95 into the (0.5, 1] bucket's two: 0.5 + 0.5 × 0.95 = 0.975 s.
  assert.deepEqual(first.relay.setupLatencyMs, { p50: 200, p99: 975, count: 10 });
  const idle = await r.builder.build(2);
  assert.deepEqual(idle.relay.setupLatencyMs, { count: 0 }, "nothing new this tick");
  r.setup.observe(2);
  const past = await r.builder.build(3);
  assert.deepEqual(
    past.relay.setupLatencyMs,
    { p50: 1_000, p99: 1_000, count: 1 },
    "+Inf: the top bound",
  );
});

Deno.test("SnapshotBuilder reports how late its clock ran the lag sampler's timer, and stop() ends it", async () => {
  const r = rig();
  r.builder.start();
  r.clock.advance(100);
  // The next sampler tick runs 30 ms past its due time, the one after it on time again.
  r.clock.lateMs = 30;
  r.clock.advance(200);
  const snapshot = await r.builder.build(1);
  assert.deepEqual(snapshot.process.eventLoopLagMs, { max: 30, p99: 30 });
  r.clock.advance(300);
  const quiet = await r.builder.build(2);
  assert.deepEqual(quiet.process.eventLoopLagMs, { max: 0, p99: 0 }, "samples are per tick");
  r.builder.stop();
  assert.equal(r.clock.pendingTimers, 0);
});
