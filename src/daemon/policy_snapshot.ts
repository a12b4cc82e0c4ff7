/**
 * Builds the policy engine's snapshot from live state: the process (memory, CPU, event-loop
 * lag), the relay and the limiter (read from their Prometheus metrics, as deltas over the
 * tick), and the federation's summary when it runs. Reading the registry keeps the relay and
 * limiter free of any policy-specific bookkeeping.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import type { MetricSample, MetricsRegistry } from "../metrics/mod.ts";
import type { Snapshot, SnapshotLimits } from "../policy/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { CpuMeter } from "./cpu_meter.ts";

/** Live state the snapshot reads besides the registry. */
export interface SnapshotSources {
  readonly registry: MetricsRegistry;
  readonly relay: Pick<Relay, "stats" | "circuits">;
  readonly peerId: string;
  readonly startedAtMs: number;
  draining(): boolean;
  connections(): number;
  throttleFactor(): number;
  bans(): number;
  /** The configured limits and the memory budget in force now. */
  limits(): Promise<SnapshotLimits>;
  federation?(): Snapshot["federation"] | undefined;
  /**
   * The wall clock of `snapshot.now`, uptime and rates, and the timer whose lateness is the
   * event-loop lag. @default SYSTEM_CLOCK
   */
  readonly clock?: Clock;
}

const LAG_SAMPLE_MS = 100;
const TOP_TALKERS = 5;

interface Sample {
  readonly values: readonly MetricSample[];
}

/** Builds one snapshot per tick; keeps what it needs to compute rates and deltas. */
export class SnapshotBuilder {
  readonly #s: SnapshotSources;
  #lagSamples: number[] = [];
  // The lag sampler: how late the clock runs an interval timer. On the SYSTEM_CLOCK that is
  // the process's own event loop; a ManualClock runs it on time, unless a test says otherwise.
  #lagTimer: TimerId | undefined;
  #lastSampleAt = 0;
  #previous = new Map<string, number>();
  #previousAtMs: number;
  readonly #clock: Clock;
  readonly #cpu = new CpuMeter();

  /** @param sources The registry and the live state it reads. */
  constructor(sources: SnapshotSources) {
    this.#s = sources;
    this.#clock = sources.clock ?? SYSTEM_CLOCK;
    this.#previousAtMs = this.#clock.nowMs();
  }

  /** Starts the event-loop lag sampler. */
  start(): void {
    const clock = this.#clock;
    this.#lastSampleAt = clock.monotonicMs();
    this.#lagTimer = clock.setInterval(() => {
      const now = clock.monotonicMs();
      this.#lagSamples.push(Math.max(0, now - this.#lastSampleAt - LAG_SAMPLE_MS));
      if (this.#lagSamples.length > 10_000) this.#lagSamples.shift();
      this.#lastSampleAt = now;
    }, LAG_SAMPLE_MS);
    clock.unrefTimer(this.#lagTimer);
  }

  stop(): void {
    this.#clock.clearInterval(this.#lagTimer);
    this.#lagTimer = undefined;
  }

  /** The snapshot of tick `tick`. */
  async build(tick: number): Promise<Snapshot> {
    const s = this.#s;
    const nowMs = this.#clock.nowMs();
    const seconds = Math.max(0.001, (nowMs - this.#previousAtMs) / 1000);
    this.#previousAtMs = nowMs;
    const memory = Deno.memoryUsage();
    const cpuSeconds = this.#cpu.takeSeconds();
    const lag = this.#lagSamples.sort((a, b) => a - b);
    this.#lagSamples = [];

    const bytes = await this.#read("hopd_relayed_bytes_total");
    const refusals = await this.#read("hopd_refusals_total");
    const rejections = await this.#read("hopd_rate_limited_total");
    const setup = await this.#read("hopd_circuit_setup_seconds");
    const stats = s.relay.stats();
    const limits = await s.limits();
    const federation = s.federation?.();
    return {
      now: nowMs,
      tick,
      node: {
        peerId: s.peerId,
        uptimeSeconds: Math.round((nowMs - s.startedAtMs) / 1000),
        draining: s.draining(),
        connections: s.connections(),
      },
      process: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        cpuPercent: round(cpuSeconds / seconds * 100),
        eventLoopLagMs: { max: round(lag.at(-1) ?? 0), p99: round(quantileOf(lag, 0.99)) },
      },
      relay: {
        reservations: stats.reservations,
        circuits: stats.circuits,
        bytesPerSecondIn: round(this.#delta(bytes, "bytes", { direction: "src_to_dst" }) / seconds),
        bytesPerSecondOut: round(
          this.#delta(bytes, "bytes", { direction: "dst_to_src" }) / seconds,
        ),
        setupLatencyMs: this.#setupQuantiles(setup),
        refusals: this.#deltasBy(refusals, "refusals", (l) => String(l.reason)),
        refusalsTotal: sum(refusals),
      },
      limiter: {
        rejections: this.#deltasBy(rejections, "rejections", (l) => `${l.limiter}.${l.reason}`),
        rejectionsTotal: sum(rejections),
        throttleFactor: s.throttleFactor(),
        bans: s.bans(),
        topTalkers: this.#topTalkers(),
      },
      limits,
      ...(federation === undefined ? {} : { federation }),
    };
  }

  async #read(name: string): Promise<Sample> {
    return { values: await this.#s.registry.values(name) };
  }

  // Change of a counter series since the previous snapshot (counters only grow; a reset
  // reads as the new value).
  #delta(sample: Sample, prefix: string, match: Record<string, string>): number {
    let total = 0;
    for (const v of sample.values) {
      if (Object.entries(match).every(([k, want]) => v.labels[k] === want)) total += v.value;
    }
    return this.#advance(`${prefix}:${JSON.stringify(match)}`, total);
  }

  #advance(key: string, value: number): number {
    const before = this.#previous.get(key) ?? 0;
    this.#previous.set(key, value);
    return value >= before ? value - before : value;
  }

  #deltasBy(
    sample: Sample,
    prefix: string,
    keyOf: (labels: MetricSample["labels"]) => string,
  ): Record<string, number> {
    const out: Record<string, number> = {};
    for (const v of sample.values) {
      const key = keyOf(v.labels);
      const delta = this.#advance(`${prefix}:${key}`, v.value);
      if (delta > 0) out[key] = delta;
    }
    return out;
  }

  // p50/p99 of the setup histogram's increase over the tick, interpolated inside a bucket
  // like PromQL's histogram_quantile.
  #setupQuantiles(sample: Sample): Snapshot["relay"]["setupLatencyMs"] {
    const buckets: { le: number; count: number }[] = [];
    for (const v of sample.values) {
      if (!v.metricName?.endsWith("_bucket")) continue;
      const le = v.labels.le === "+Inf" ? Infinity : Number(v.labels.le);
      buckets.push({ le, count: this.#advance(`setup:${v.labels.le}`, v.value) });
    }
    buckets.sort((a, b) => a.le - b.le);
    const count = buckets.at(-1)?.count ?? 0;
    if (count === 0) return { count: 0 };
    const at = (q: number) => {
      const rank = q * count;
      let lower = 0;
      let below = 0;
      for (const b of buckets) {
        if (b.count >= rank) {
          if (b.le === Infinity) return lower * 1000;
          const inBucket = b.count - below;
          const fraction = inBucket === 0 ? 1 : (rank - below) / inBucket;
          return (lower + (b.le - lower) * fraction) * 1000;
        }
        lower = b.le;
        below = b.count;
      }
      return lower * 1000;
    };
    return { p50: round(at(0.5)), p99: round(at(0.99)), count };
  }

  #topTalkers(): Snapshot["limiter"]["topTalkers"] {
    const byPeer = new Map<string, number>();
    for (const c of this.#s.relay.circuits()) {
      byPeer.set(c.source, (byPeer.get(c.source) ?? 0) + c.bytesSrcToDst + c.bytesDstToSrc);
    }
    return [...byPeer].sort((a, b) => b[1] - a[1]).slice(0, TOP_TALKERS)
      .map(([peer, bytes]) => ({ peer, bytes }));
  }
}

function quantileOf(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function sum(sample: Sample): number {
  return sample.values.reduce((total, v) => total + v.value, 0);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
