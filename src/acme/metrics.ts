/**
 * The ACME client's Prometheus metrics: issuance outcomes and the state of the managed
 * certificate, read at scrape time.
 *
 * @module
 */

import type { Counter, MetricsRegistry } from "../metrics/mod.ts";

/** The ACME counters the manager bumps. */
export interface AcmeMetrics {
  /** Every order sent to the CA (first certificates and renewals), by result. */
  readonly orders: Counter<"result">;
  /** Orders that replace a certificate hopd already serves, by result. */
  readonly renewals: Counter<"result">;
}

/** What the gauges read from the manager at scrape time. */
export interface AcmeGaugeSources {
  consecutiveFailures(): number;
  /** Unix ms of the next planned order (renewal or retry); undefined while ordering. */
  nextOrderAtMs(): number | undefined;
}

/**
 * Registers `hopd_acme_orders_total{result}`, `hopd_acme_renewals_total{result}` (both
 * results at 0 from the start, so `increase()` sees the first failure),
 * `hopd_acme_consecutive_failures` and `hopd_acme_next_order_timestamp_seconds`.
 *
 * @param registry Where to register.
 * @param sources Read at scrape time.
 * @returns The counters.
 */
export function registerAcmeMetrics(
  registry: MetricsRegistry,
  sources: AcmeGaugeSources,
): AcmeMetrics {
  const orders = registry.counter({
    name: "hopd_acme_orders_total",
    help: "ACME certificate orders (first certificates and renewals) by result (ok, error).",
    labelNames: ["result"] as const,
  });
  const renewals = registry.counter({
    name: "hopd_acme_renewals_total",
    help: "ACME orders that replace the certificate in use, by result (ok, error).",
    labelNames: ["result"] as const,
  });
  for (const result of ["ok", "error"]) {
    orders.inc({ result }, 0);
    renewals.inc({ result }, 0);
  }
  registry.gauge({
    name: "hopd_acme_consecutive_failures",
    help: "ACME orders that failed in a row (0 after a success).",
    collect() {
      this.set(sources.consecutiveFailures());
    },
  });
  registry.gauge({
    name: "hopd_acme_next_order_timestamp_seconds",
    help: "When the next ACME order (renewal or retry) is planned, as a unix time.",
    collect() {
      this.reset();
      const at = sources.nextOrderAtMs();
      if (at !== undefined) this.set(at / 1000);
    },
  });
  return { orders, renewals };
}
