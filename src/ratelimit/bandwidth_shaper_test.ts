import assert from "node:assert/strict";
import {
  BANDWIDTH_MIN_BURST_BYTES,
  type BandwidthCaps,
  BandwidthShaper,
  type Flow,
  UNLIMITED_FLOW,
} from "./bandwidth_shaper.ts";
import { largestExcess, seededRandom } from "./testing.ts";

const MB = 1_000_000;
const PIECE_BYTES = 16_384;

function caps(init: Partial<BandwidthCaps>): BandwidthCaps {
  return {
    perCircuitBytesPerSecond: 0,
    perPeerBytesPerSecond: 0,
    globalBytesPerSecond: 0,
    burstMs: 100,
    ...init,
  };
}

interface SimFlow {
  readonly name: string;
  readonly flow: Flow;
  nextMs: number;
}

/** One grant: when, how many bytes, to which flow. */
interface Grant {
  readonly atMs: number;
  readonly bytes: number;
  readonly name: string;
}

/**
 * Runs flows that push flat out on a simulated clock, as the relay's data path does: each
 * asks for a piece; granted, it asks again at once; refused, it asks again after
 * `retryAfterMs` plus `lateMs()` (a busy CPU fires timers late). Returns every grant.
 */
function simulate(flows: SimFlow[], durationMs: number, lateMs = () => 0): Grant[] {
  const grants: Grant[] = [];
  for (;;) {
    let next = flows[0]!;
    for (const f of flows) if (f.nextMs < next.nextMs) next = f;
    const now = next.nextMs;
    if (now >= durationMs) break;
    const granted = next.flow.take(now, PIECE_BYTES);
    if (granted > 0) {
      grants.push({ atMs: now, bytes: granted, name: next.name });
      // A send takes a little time; the next piece is asked for right after.
      next.nextMs = now + 0.01;
    } else {
      next.nextMs = now + next.flow.retryAfterMs + lateMs();
    }
  }
  return grants;
}

/** Bytes per second each flow-name prefix moved between `fromMs` and `toMs`. */
function rateOf(grants: Grant[], prefix: string, fromMs = 1_000, toMs = 10_000): number {
  let bytes = 0;
  for (const g of grants) {
    if (g.name.startsWith(prefix) && g.atMs >= fromMs && g.atMs < toMs) bytes += g.bytes;
  }
  return bytes / ((toMs - fromMs) / 1000);
}

function flowsOf(shaper: BandwidthShaper, peer: string, count: number): SimFlow[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `${peer}/${i}`,
    flow: shaper.openFlow(peer),
    nextMs: 0,
  }));
}

Deno.test("BandwidthShaper shares the global cap fairly: 8 saturated circuits do not starve 1", () => {
  const shaper = new BandwidthShaper(caps({ globalBytesPerSecond: 10 * MB }));
  const grants = simulate([...flowsOf(shaper, "A", 8), ...flowsOf(shaper, "B", 1)], 10_000);
  const a = rateOf(grants, "A/");
  const b = rateOf(grants, "B/");
  assert.ok(b >= 0.45 * 10 * MB, `B got ${b} B/s`);
  assert.ok(Math.abs(a + b - 10 * MB) <= MB, `total ${a + b} B/s`);
});

Deno.test("BandwidthShaper holds the per-circuit cap within 10%", () => {
  const shaper = new BandwidthShaper(caps({ perCircuitBytesPerSecond: 1 * MB }));
  const grants = simulate(flowsOf(shaper, "A", 3), 10_000);
  for (const name of ["A/0", "A/1", "A/2"]) {
    const rate = rateOf(grants, name);
    assert.ok(Math.abs(rate - MB) <= 0.1 * MB, `${name} at ${rate} B/s`);
  }
});

Deno.test("BandwidthShaper holds the per-peer cap within 10% over a peer's circuits", () => {
  const shaper = new BandwidthShaper(caps({ perPeerBytesPerSecond: 2 * MB }));
  const grants = simulate([...flowsOf(shaper, "A", 4), ...flowsOf(shaper, "B", 1)], 10_000);
  for (const peer of ["A/", "B/"]) {
    const rate = rateOf(grants, peer);
    assert.ok(Math.abs(rate - 2 * MB) <= 0.2 * MB, `${peer} at ${rate} B/s`);
  }
});

Deno.test("BandwidthShaper combines caps: the tightest applies", () => {
  const shaper = new BandwidthShaper(caps({
    perCircuitBytesPerSecond: 3 * MB,
    perPeerBytesPerSecond: 4 * MB,
    globalBytesPerSecond: 6 * MB,
  }));
  const grants = simulate([...flowsOf(shaper, "A", 4), ...flowsOf(shaper, "B", 1)], 10_000);
  const a = rateOf(grants, "A/");
  const b = rateOf(grants, "B/");
  assert.ok(Math.abs(a - 3 * MB) <= 0.3 * MB, `A at ${a}`); // global share 3 < per-peer 4
  assert.ok(Math.abs(b - 3 * MB) <= 0.3 * MB, `B at ${b}`); // one circuit, capped at 3
});

Deno.test("BandwidthShaper never grants more than rate × T + burst in any window, however late the retries", async (t) => {
  // A busy CPU fires the data path's timers up to 200 ms late. The old shaper charged each
  // piece after sending it, so every flow under a bucket could overdraw it by one piece
  // (4 circuits of a peer: 64 KiB past the burst) and catch-up timers compounded it.
  const RATE = 512 * 1024;
  const BURST = RATE * 0.1;
  const cases: [string, Partial<BandwidthCaps>, number[], (g: Grant) => string][] = [
    ["per circuit", { perCircuitBytesPerSecond: RATE }, [3], (g) => g.name],
    ["per peer, 6 circuits", { perPeerBytesPerSecond: RATE }, [6, 1], (g) => g.name[0]!],
    ["global, 4 peers", { globalBytesPerSecond: RATE }, [3, 1, 2, 1], () => "all"],
  ];
  for (const [name, init, circuits, scope] of cases) {
    await t.step(name, () => {
      for (const seed of [1, 2, 3]) {
        const shaper = new BandwidthShaper(caps(init));
        const late = seededRandom(seed);
        const flows = circuits.flatMap((n, i) => flowsOf(shaper, String.fromCharCode(65 + i), n));
        const grants = simulate(flows, 20_000, () => late() * 200);
        const scopes = new Map<string, Grant[]>();
        for (const g of grants) scopes.set(scope(g), [...(scopes.get(scope(g)) ?? []), g]);
        for (const [key, own] of scopes) {
          const excess = largestExcess(own, RATE);
          assert.ok(excess <= BURST + 1e-6, `${key} (seed ${seed}): ${excess} B past the rate`);
        }
        // And it is not idle: each scope still moves close to its cap.
        assert.ok(rateOf(grants, "") >= 0.4 * RATE, `only ${rateOf(grants, "")} B/s`);
      }
    });
  }
});

Deno.test("BandwidthShaper gives a slow cap whole pieces: its bucket holds at least 16 KiB", () => {
  const shaper = new BandwidthShaper(caps({ perCircuitBytesPerSecond: 10_000 }));
  const flow = shaper.openFlow("A");
  // 100 ms at 10 kB/s is 1 kB; the bucket still holds one whole piece.
  assert.equal(flow.take(0, PIECE_BYTES), BANDWIDTH_MIN_BURST_BYTES);
  assert.equal(flow.take(0, PIECE_BYTES), 0);
  assert.equal(flow.retryAfterMs, Math.ceil(PIECE_BYTES / 10));
  // More than the bucket holds is granted one bucketful at a time.
  assert.equal(flow.take(10_000, 10 * PIECE_BYTES), BANDWIDTH_MIN_BURST_BYTES);
});

Deno.test("BandwidthShaper gives a peer the whole global cap once the others go quiet", () => {
  const shaper = new BandwidthShaper(caps({ globalBytesPerSecond: 10 * MB }));
  const a = shaper.openFlow("A");
  const b = shaper.openFlow("B");
  a.take(0, 1);
  b.take(0, 1);
  assert.equal(shaper.activePeers, 2);
  // B idles for 2 s; A's share is now the whole 10 MB/s: a 1 MB burst is granted at once.
  assert.equal(a.take(2_000, 1 * MB), 1 * MB);
  assert.equal(shaper.activePeers, 1);
});

Deno.test("BandwidthShaper with no caps hands out a free flow", () => {
  const shaper = new BandwidthShaper(caps({}));
  const flow = shaper.openFlow("A");
  assert.equal(flow, UNLIMITED_FLOW);
  assert.equal(flow.take(0, 1e12), 1e12);
  assert.equal(shaper.peers, 0);
  const capped = new BandwidthShaper(caps({ globalBytesPerSecond: MB }));
  assert.equal(capped.openFlow("A", true), UNLIMITED_FLOW);
});

Deno.test("BandwidthShaper flow.close() releases the peer; later take grants everything", () => {
  const shaper = new BandwidthShaper(caps({ perPeerBytesPerSecond: MB }));
  const one = shaper.openFlow("A");
  const two = shaper.openFlow("A");
  assert.equal(shaper.peers, 1);
  one.take(0, 10);
  one.close();
  one.close();
  assert.equal(shaper.peers, 1);
  two.close();
  assert.equal(shaper.peers, 0);
  assert.equal(shaper.activePeers, 0);
  assert.equal(two.take(0, 10 * MB), 10 * MB);
});

Deno.test("BandwidthShaper counts throttled time and follows its factor", () => {
  const shaper = new BandwidthShaper(caps({ perCircuitBytesPerSecond: MB }));
  const flow = shaper.openFlow("A");
  assert.equal(flow.take(0, 100_000), 100_000); // the 100 ms burst
  assert.equal(flow.take(0, 50_000), 0);
  assert.equal(flow.retryAfterMs, 50);
  assert.equal(shaper.throttledMs, 50);
  shaper.setFactor(0.5, 10_000);
  // 0.5 MB/s now: 100 ms refilled 50 kB, and the bucket holds 50 kB at most.
  assert.equal(flow.take(100, 80_000), 50_000);
  assert.equal(flow.take(100, 25_000), 0);
  assert.equal(flow.retryAfterMs, 50);
  assert.equal(flow.take(10_000, 100_000), 100_000); // factor lapsed at 10 s: 1 MB/s again
});

Deno.test("BandwidthShaper rejects a negative cap or burst with a RangeError naming it", () => {
  assert.throws(
    () => new BandwidthShaper(caps({ globalBytesPerSecond: -1 })),
    /globalBytesPerSecond/,
  );
  assert.throws(() => new BandwidthShaper(caps({ burstMs: -1 })), /burstMs/);
});
