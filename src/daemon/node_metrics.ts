/**
 * The node-level metrics: `hopd_ready` and `hopd_draining`, read from the node state when
 * Prometheus scrapes, and `hopd_reloads_total{result}`, counted by each SIGHUP reload.
 *
 * @module
 */

import type { Counter, MetricsRegistry } from "../metrics/mod.ts";
import type { Readiness } from "../ops/mod.ts";

/** The node-level metrics: readiness, draining and reloads. */
export interface NodeMetrics {
  readonly reloads: Counter<"result">;
}

/**
 * Registers `hopd_ready`, `hopd_draining` (both read at scrape time) and
 * `hopd_reloads_total{result}`.
 *
 * @param registry Where to register.
 * @param readiness Reads readiness.
 * @param draining Reads the draining flag.
 * @returns The counters the node updates.
 */
export function registerNodeMetrics(
  registry: MetricsRegistry,
  readiness: () => Readiness,
  draining: () => boolean,
): NodeMetrics {
  registry.gauge({
    name: "hopd_ready",
    help: "1 when /ready answers 200, else 0.",
    collect() {
      this.set(readiness().ready ? 1 : 0);
    },
  });
  registry.gauge({
    name: "hopd_draining",
    help: "1 while the node drains (refusing new work), else 0.",
    collect() {
      this.set(draining() ? 1 : 0);
    },
  });
  return {
    reloads: registry.counter({
      name: "hopd_reloads_total",
      help: "SIGHUP reloads by result (error: the previous settings stay in use).",
      labelNames: ["result"] as const,
    }),
  };
}
