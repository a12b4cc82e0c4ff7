/**
 * The process-wide Prometheus registry: prom-client's default process metrics plus the
 * `hopd_*` metrics every component registers on it. Components receive the registry as a
 * dependency; only the ops server renders it.
 *
 * @example
 * ```ts
 * import { createRegistry } from "./mod.ts";
 * const registry = createRegistry({ version: "0.1.0" });
 * const text = await registry.metrics();
 * ```
 *
 * @module
 */

import { collectDefaultMetrics, Gauge, Registry } from "prom-client";

/** prom-client default metrics left out of the registry (see createRegistry). */
const NON_CONFORMING_DEFAULT_METRICS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
] as const;

/**
 * prom-client default metrics read from /proc/self, which Deno lets only `--allow-all`
 * programs read: under hopd's permission set they are always 0, so they are left out and
 * the resident set size comes from `Deno.memoryUsage()` instead.
 */
const PROC_SELF_DEFAULT_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
] as const;

/** What the registry is labelled with. */
export interface RegistryInit {
  /** hopd's version, exported as `hopd_build_info{version}`. */
  readonly version: string;
  /** Collect prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean;
}

/**
 * Creates the registry with default metrics and `hopd_build_info`.
 *
 * @param init Version label and options.
 * @returns The registry.
 */
export function createRegistry(init: RegistryInit): Registry {
  const registry = new Registry();
  if (init.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    // prom-client names these gauges "*_total", which `promtool check metrics` rejects (the
    // suffix is reserved for counters); their counts of Node handles mean little under Deno.
    for (const name of NON_CONFORMING_DEFAULT_METRICS) registry.removeSingleMetric(name);
    for (const name of PROC_SELF_DEFAULT_METRICS) registry.removeSingleMetric(name);
    new Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers: [registry],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }
  const buildInfo = new Gauge({
    name: "hopd_build_info",
    help: "Build information; the value is always 1.",
    labelNames: ["version", "deno", "v8", "typescript"] as const,
    registers: [registry],
  });
  buildInfo.set({
    version: init.version,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  }, 1);
  return registry;
}
