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
  if (init.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
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
