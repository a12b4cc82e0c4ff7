/**
 * Prometheus metrics of the AutoNAT server, registered on the registry the daemon passes in.
 *
 * @module
 */

import type { Counter, Histogram, MetricsRegistry } from "../metrics/mod.ts";

/**
 * How a request ended: `ok` (dialed back), `dial_error` (nothing answered), a refusal
 * (`refused_rate_limit`, `refused_address`: a non-public IP or nothing dialable,
 * `refused_connection`: asked over a relayed connection), `bad_request`, or `stream_error`
 * (bad bytes, a reset or the timeout before an answer was written).
 */
export type AutonatResult =
  | "ok"
  | "dial_error"
  | "refused_rate_limit"
  | "refused_address"
  | "refused_connection"
  | "bad_request"
  | "stream_error";

const RESULTS: readonly AutonatResult[] = [
  "ok",
  "dial_error",
  "refused_rate_limit",
  "refused_address",
  "refused_connection",
  "bad_request",
  "stream_error",
];
const DIAL_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15];

/** The AutoNAT server's metrics. */
export class AutonatMetrics {
  readonly #requests: Counter<"result">;
  readonly #dials: Histogram<"outcome">;

  /**
   * Creates and registers the AutoNAT metrics.
   *
   * @param registry Registry to register on.
   */
  constructor(registry: MetricsRegistry) {
    this.#requests = registry.counter({
      name: "hopd_autonat_requests_total",
      help: "AutoNAT v1 dial-back requests, by result (ok, dial_error, refused_rate_limit, " +
        "refused_address, refused_connection, bad_request, stream_error).",
      labelNames: ["result"],
    });
    for (const result of RESULTS) this.#requests.inc({ result }, 0);
    this.#dials = registry.histogram({
      name: "hopd_autonat_dial_seconds",
      help: "Time of one dial-back, by outcome (ok, error).",
      labelNames: ["outcome"],
      buckets: DIAL_BUCKETS_S,
    });
  }

  /** Counts a request by how it ended. */
  request(result: AutonatResult): void {
    this.#requests.inc({ result });
  }

  /** Records one dial-back. */
  dialed(outcome: "ok" | "error", seconds: number): void {
    this.#dials.observe({ outcome }, seconds);
  }
}
