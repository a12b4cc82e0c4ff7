import assert from "node:assert/strict";
import {
  type BandwidthCaps,
  BandwidthShaper,
  type Flow,
  UNLIMITED_FLOW,
} from "./bandwidth_shaper.ts";

const MB = 1_000_000;
const CHUNK_BYTES = 16_384;

function caps(init: Partial<BandwidthCaps>): BandwidthCaps {
  return {
    perCircuitBytesPerSecond: 0,
    perPeerBytesPerSecond: 0,
    globalBytesPerSecond: 0,
    ...init,
  };
}

interface SimFlow {
  readonly name: string;
  readonly flow: Flow;
  nextMs: number;
  bytes: number;
}

/**
 * Runs flows that push flat out (each sends a chunk whenever its last wait is over) on a
 * simulated clock, and returns the bytes each moved from `warmupMs` to `durationMs`.
 */
function simulate(flows: SimFlow[], durationMs: number, warmupMs = 1_000): Map<string, number> {
  const totals = new Map<string, number>();
  for (;;) {
    let next = flows[0]!;
    for (const f of flows) if (f.nextMs < next.nextMs) next = f;
    const now = next.nextMs;
    if (now >= durationMs) break;
    const waitMs = next.flow.consume(now, CHUNK_BYTES);
    if (now >= warmupMs) totals.set(next.name, (totals.get(next.name) ?? 0) + CHUNK_BYTES);
    next.bytes += CHUNK_BYTES;
    next.nextMs = now + Math.max(waitMs, 0.01);
  }
  return totals;
}

function sum(totals: Map<string, number>, prefix: string): number {
  let total = 0;
  for (const [name, bytes] of totals) if (name.startsWith(prefix)) total += bytes;
  return total;
}

function flowsOf(shaper: BandwidthShaper, peer: string, count: number): SimFlow[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${peer}/${i}`,
    flow: shaper.openFlow(peer),
    nextMs: 0,
    bytes: 0,
  }));
}

Deno.test("BandwidthShaper shares the global cap fairly: 8 saturated circuits do not starve 1", () => {
  const shaper = new BandwidthShaper(caps({ globalBytesPerSecond: 10 * MB }));
  const flows = [...flowsOf(shaper, "A", 8), ...flowsOf(shaper, "B", 1)];
  const seconds = 9;
  const totals = simulate(flows, 10_000);
  const a = sum(totals, "A/") / seconds;
  const b = sum(totals, "B/") / seconds;
  assert.ok(b >= 0.45 * 10 * MB, `B got ${b} B/s`);
  assert.ok(Math.abs(a + b - 10 * MB) <= MB, `total ${a + b} B/s`);
});

Deno.test("BandwidthShaper holds the per-circuit cap within 10%", () => {
  const shaper = new BandwidthShaper(caps({ perCircuitBytesPerSecond: 1 * MB }));
  const totals = simulate(flowsOf(shaper, "A", 3), 10_000);
  for (const [name, bytes] of totals) {
    const rate = bytes / 9;
    assert.ok(Math.abs(rate - MB) <= 0.1 * MB, `${name} at ${rate} B/s`);
  }
});

Deno.test("BandwidthShaper holds the per-peer cap within 10% over a peer's circuits", () => {
  const shaper = new BandwidthShaper(caps({ perPeerBytesPerSecond: 2 * MB }));
  const totals = simulate([...flowsOf(shaper, "A", 4), ...flowsOf(shaper, "B", 1)], 10_000);
  for (const peer of ["A/", "B/"]) {
    const rate = sum(totals, peer) / 9;
    assert.ok(Math.abs(rate - 2 * MB) <= 0.2 * MB, `${peer} at ${rate} B/s`);
  }
});

Deno.test("BandwidthShaper combines caps: the tightest applies", () => {
  const shaper = new BandwidthShaper(caps({
    perCircuitBytesPerSecond: 3 * MB,
    perPeerBytesPerSecond: 4 * MB,
    globalBytesPerSecond: 6 * MB,
  }));
  const totals = simulate([...flowsOf(shaper, "A", 4), ...flowsOf(shaper, "B", 1)], 10_000);
  const a = sum(totals, "A/") / 9;
  const b = sum(totals, "B/") / 9;
  assert.ok(Math.abs(a - 3 * MB) <= 0.3 * MB, `A at ${a}`); // global share 3 < per-peer 4
  assert.ok(Math.abs(b - 3 * MB) <= 0.3 * MB, `B at ${b}`); // one circuit, capped at 3
});

Deno.test("BandwidthShaper gives a peer the whole global cap once the others go quiet", () => {
  const shaper = new BandwidthShaper(caps({ globalBytesPerSecond: 10 * MB }));
  const a = shaper.openFlow("A");
  const b = shaper.openFlow("B");
  a.consume(0, 1);
  b.consume(0, 1);
  assert.equal(shaper.activePeers, 2);
  // B idles for 2 s; A now gets 10 MB/s: 1 MB takes ~100 ms, not ~200 ms.
  let waitMs = 0;
  for (let now = 2_000; waitMs === 0; now++) waitMs = a.consume(now, 1 * MB);
  assert.equal(shaper.activePeers, 1);
  assert.ok(waitMs <= 110, `waited ${waitMs} ms`);
});

Deno.test("BandwidthShaper with no caps hands out a free flow", () => {
  const shaper = new BandwidthShaper(caps({}));
  const flow = shaper.openFlow("A");
  assert.equal(flow, UNLIMITED_FLOW);
  assert.equal(flow.consume(0, 1e12), 0);
  assert.equal(shaper.peers, 0);
  const capped = new BandwidthShaper(caps({ globalBytesPerSecond: MB }));
  assert.equal(capped.openFlow("A", true), UNLIMITED_FLOW);
});

Deno.test("BandwidthShaper flow.close() releases the peer; later consume returns 0", () => {
  const shaper = new BandwidthShaper(caps({ perPeerBytesPerSecond: MB }));
  const one = shaper.openFlow("A");
  const two = shaper.openFlow("A");
  assert.equal(shaper.peers, 1);
  one.consume(0, 10);
  one.close();
  one.close();
  assert.equal(shaper.peers, 1);
  two.close();
  assert.equal(shaper.peers, 0);
  assert.equal(shaper.activePeers, 0);
  assert.equal(two.consume(0, 10 * MB), 0);
});

Deno.test("BandwidthShaper counts throttled time and follows its factor", () => {
  const shaper = new BandwidthShaper(caps({ perCircuitBytesPerSecond: MB }));
  const flow = shaper.openFlow("A");
  assert.equal(flow.consume(0, 100_000), 0); // the 100 ms burst
  assert.equal(flow.consume(0, 100_000), 100);
  assert.equal(shaper.throttledMs, 100);
  shaper.setFactor(0.5, 10_000);
  // 0.5 MB/s now: 100 ms repaid 50 kB of the 100 kB debt; 100 kB more owed takes 200 ms.
  assert.equal(flow.consume(100, 50_000), 200);
  assert.equal(flow.consume(10_000, 0), 0); // factor lapsed at 10 s
  assert.equal(flow.consume(10_000, 1_100_000), 1_000);
});

Deno.test("BandwidthShaper rejects a negative cap with a RangeError naming it", () => {
  assert.throws(
    () => new BandwidthShaper(caps({ globalBytesPerSecond: -1 })),
    /globalBytesPerSecond/,
  );
});
