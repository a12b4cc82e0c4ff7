/**
 * Prometheus metrics of the limiter. Checks count refusals in a plain typed array; the
 * counters and gauges read it, and the other live figures, when the registry is scraped, so
 * no check ever touches a metric.
 *
 * @module
 */

import type { MetricsRegistry } from "../metrics/mod.ts";
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
export function registerLimiterMetrics(
  registry: MetricsRegistry,
  source: LimiterMetricsSource,
): void {
  const published = new Float64Array(source.refusals.length);
  registry.counter({
    name: "hopd_rate_limited_total",
    help: "Checks refused by the rate limiter, by check and reason.",
    labelNames: ["limiter", "reason"] as const,
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
  registry.gauge({
    name: "hopd_bans_active",
    help: "Bans in force (peers and CIDR blocks).",
    collect() {
      this.set(source.bansActive());
    },
  });
  let publishedSaveFailures = 0;
  registry.counter({
    name: "hopd_bans_save_failures_total",
    help: "Saves of bans.json that failed (the bans in force are then not all on disk).",
    collect() {
      const failures = source.banSaveFailures();
      if (failures > publishedSaveFailures) this.inc(failures - publishedSaveFailures);
      publishedSaveFailures = failures;
    },
  });
  registry.gauge({
    name: "hopd_throttle_factor",
    help: "Factor scaling every rate and bandwidth cap (1 = not throttled).",
    collect() {
      this.set(source.throttleFactor());
    },
  });
  let publishedThrottledMs = 0;
  registry.counter({
    name: "hopd_bandwidth_throttled_seconds_total",
    help: "Pause asked of relay flows by bandwidth caps, summed over flows.",
    collect() {
      const ms = source.throttledMs();
      if (ms > publishedThrottledMs) this.inc((ms - publishedThrottledMs) / 1000);
      publishedThrottledMs = ms;
    },
  });
  registry.gauge({
    name: "hopd_ratelimit_tracked_keys",
    help: "Keys tracked per rate limit table.",
    labelNames: ["limiter"] as const,
    collect() {
      for (const [limiter, keys] of Object.entries(source.trackedKeys())) {
        this.set({ limiter }, keys);
      }
    },
  });
}
