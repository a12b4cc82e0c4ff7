/**
 * Prometheus metrics of the limiter. Checks count refusals in a plain typed array; the
 * counters and gauges read it, and the other live figures, when the registry is scraped, so
 * no check ever touches prom-client.
 *
 * @module
 */

import { Counter, Gauge } from "prom-client";
import type { Registry } from "prom-client";
import type { LimiterName, RefusalReason } from "./mod.ts";

/** Label values of `limiter`, in the order of the refusal array's rows. */
export const LIMITER_NAMES: readonly LimiterName[] = [
  "connection",
  "peer",
  "reservation",
  "circuit",
  "http",
];
/** Label values of `reason`, in the order of the refusal array's columns. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  "banned",
  "denied",
  "rate_ip",
  "rate_subnet",
  "rate_peer",
  "rate_global",
  "reservation_quota",
];

/** What the metrics read at scrape time. */
export interface LimiterMetricsSource {
  /** Refusals so far, indexed `limiter * REFUSAL_REASONS.length + reason`. */
  readonly refusals: Float64Array;
  bansActive(): number;
  /** Failed saves of bans.json so far. */
  banSaveFailures(): number;
  throttleFactor(): number;
  throttledMs(): number;
  trackedKeys(): Record<string, number>;
}

/**
 * Registers the limiter's metrics.
 *
 * @param registry Registry to register on (one limiter per registry).
 * @param source Live figures read at scrape time.
 */
export function registerLimiterMetrics(registry: Registry, source: LimiterMetricsSource): void {
  const registers = [registry];
  const published = new Float64Array(source.refusals.length);
  new Counter({
    name: "hopd_rate_limited_total",
    help: "Checks refused by the rate limiter, by check and reason.",
    labelNames: ["limiter", "reason"] as const,
    registers,
    collect() {
      for (let i = 0; i < published.length; i++) {
        const delta = source.refusals[i]! - published[i]!;
        if (delta <= 0) continue;
        published[i] = source.refusals[i]!;
        this.inc({
          limiter: LIMITER_NAMES[Math.floor(i / REFUSAL_REASONS.length)]!,
          reason: REFUSAL_REASONS[i % REFUSAL_REASONS.length]!,
        }, delta);
      }
    },
  });
  new Gauge({
    name: "hopd_bans_active",
    help: "Bans in force (peers and CIDR blocks).",
    registers,
    collect() {
      this.set(source.bansActive());
    },
  });
  let publishedSaveFailures = 0;
  new Counter({
    name: "hopd_bans_save_failures_total",
    help: "Saves of bans.json that failed (the bans in force are then not all on disk).",
    registers,
    collect() {
      const failures = source.banSaveFailures();
      if (failures > publishedSaveFailures) this.inc(failures - publishedSaveFailures);
      publishedSaveFailures = failures;
    },
  });
  new Gauge({
    name: "hopd_throttle_factor",
    help: "Factor scaling every rate and bandwidth cap (1 = not throttled).",
    registers,
    collect() {
      this.set(source.throttleFactor());
    },
  });
  let publishedThrottledMs = 0;
  new Counter({
    name: "hopd_bandwidth_throttled_seconds_total",
    help: "Pause asked of relay flows by bandwidth caps, summed over flows.",
    registers,
    collect() {
      const ms = source.throttledMs();
      if (ms > publishedThrottledMs) this.inc((ms - publishedThrottledMs) / 1000);
      publishedThrottledMs = ms;
    },
  });
  new Gauge({
    name: "hopd_ratelimit_tracked_keys",
    help: "Keys tracked per rate limit table.",
    labelNames: ["limiter"] as const,
    registers,
    collect() {
      for (const [limiter, keys] of Object.entries(source.trackedKeys())) {
        this.set({ limiter }, keys);
      }
    },
  });
}
