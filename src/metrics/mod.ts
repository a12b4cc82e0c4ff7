/**
 * hopd's metrics: the process-wide {@linkcode MetricsRegistry} every component declares its
 * `hopd_*` counters, gauges and histograms on, and that the ops server renders for Prometheus.
 *
 * Components see only hopd's own types ({@linkcode Counter}, {@linkcode Gauge},
 * {@linkcode Histogram}: the few members hopd calls), as js-libp2p's services see its
 * `Metrics` interface; prom-client, which does the work (series, buckets, the text format and
 * its default process metrics), is imported here alone.
 *
 * @example
 * ```ts
 * import { createRegistry } from "./mod.ts";
 * const registry = createRegistry({ version: "0.1.0" });
 * const requests = registry.counter({
 *   name: "hopd_example_requests_total",
 *   help: "Requests, by result.",
 *   labelNames: ["result"] as const,
 * });
 * requests.inc({ result: "ok" });
 * const text = await registry.metrics();
 * ```
 *
 * @module
 */

import {
  collectDefaultMetrics,
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  Registry,
} from "prom-client";

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

/** The label values of one series, by label name. */
export type Labels<L extends string> = Partial<Record<L, string | number>>;

/** What every metric is declared with. */
export interface MetricInit<L extends string> {
  /** `hopd_<component>_<thing>_<unit|total>`. */
  readonly name: string;
  /** The `# HELP` text. */
  readonly help: string;
  /** The label names its series are told apart by; absent = one series, no labels. */
  readonly labelNames?: readonly L[];
}

/** A counter: only grows (or is reset). */
export interface Counter<L extends string = string> {
  /** Adds `value` (default 1) to the series without labels. */
  inc(value?: number): void;
  /** Adds `value` (default 1) to the series of `labels`. */
  inc(labels: Labels<L>, value?: number): void;
  /** The series of `labels`, to count on without looking it up each time. */
  labels(labels: Labels<L>): CounterSeries;
  /** Forgets every series. */
  reset(): void;
}

/** One series of a {@linkcode Counter}. */
export interface CounterSeries {
  /** Adds `value` (default 1). */
  inc(value?: number): void;
}

/** Declares a {@linkcode Counter}. */
export interface CounterInit<L extends string> extends MetricInit<L> {
  /** Called before each scrape, to count what happened since the last one. */
  readonly collect?: (this: Counter<L>) => void | Promise<void>;
}

/** A gauge: a value that goes up and down. */
export interface Gauge<L extends string = string> {
  /** Sets the series without labels. */
  set(value: number): void;
  /** Sets the series of `labels`. */
  set(labels: Labels<L>, value: number): void;
  /** Adds `value` (default 1) to the series without labels. */
  inc(value?: number): void;
  /** Adds `value` (default 1) to the series of `labels`. */
  inc(labels: Labels<L>, value?: number): void;
  /** Forgets every series (a scrape-time gauge whose series come and go starts so). */
  reset(): void;
}

/** Declares a {@linkcode Gauge}. */
export interface GaugeInit<L extends string> extends MetricInit<L> {
  /** Called before each scrape, to read the value from live state. */
  readonly collect?: (this: Gauge<L>) => void | Promise<void>;
}

/** A histogram: observations counted into buckets, with their sum and count. */
export interface Histogram<L extends string = string> {
  /** Records `value` in the series without labels. */
  observe(value: number): void;
  /** Records `value` in the series of `labels`. */
  observe(labels: Labels<L>, value: number): void;
  /** Exports the series of `labels` with every bucket at 0 before its first observation. */
  zero(labels: Labels<L>): void;
  /** Forgets every series. */
  reset(): void;
}

/** Declares a {@linkcode Histogram}. */
export interface HistogramInit<L extends string> extends MetricInit<L> {
  /** Upper bounds of the buckets, ascending, in the metric's unit. */
  readonly buckets: readonly number[];
}

/** One value of a metric as the registry would export it now. */
export interface MetricSample {
  /** The series' labels. */
  readonly labels: Labels<string>;
  /** Its value. */
  readonly value: number;
  /** A histogram's line name (`…_bucket`, `…_sum`, `…_count`); absent for counters and gauges. */
  readonly metricName?: string;
}

/**
 * The metrics of one process: components declare theirs on it, the ops server renders it,
 * the daemon reads values back (the policy snapshot, the load report).
 */
export class MetricsRegistry {
  readonly #registry = new Registry();

  /**
   * Declares a counter.
   *
   * @param init Name, help, label names and an optional scrape-time collector.
   * @returns The counter.
   * @throws {Error} When a metric of that name is declared already.
   */
  counter<L extends string = never>(init: CounterInit<L>): Counter<L> {
    return new PromCounter<L>({ ...init, registers: [this.#registry] });
  }

  /**
   * Declares a gauge.
   *
   * @param init Name, help, label names and an optional scrape-time collector.
   * @returns The gauge.
   * @throws {Error} When a metric of that name is declared already.
   */
  gauge<L extends string = never>(init: GaugeInit<L>): Gauge<L> {
    return new PromGauge<L>({ ...init, registers: [this.#registry] });
  }

  /**
   * Declares a histogram.
   *
   * @param init Name, help, label names and buckets.
   * @returns The histogram.
   * @throws {Error} When a metric of that name is declared already.
   */
  histogram<L extends string = never>(init: HistogramInit<L>): Histogram<L> {
    return new PromHistogram<L>({
      ...init,
      buckets: [...init.buckets],
      registers: [this.#registry],
    });
  }

  /**
   * Every value of one metric, its collector run first.
   *
   * @param name The metric's name.
   * @returns Its values; none when no metric of that name is declared.
   */
  async values(name: string): Promise<MetricSample[]> {
    const metric = this.#registry.getSingleMetric(name);
    if (metric === undefined) return [];
    return (await metric.get()).values;
  }

  /**
   * Every metric in the Prometheus text format, collectors run first.
   *
   * @returns The text `GET /metrics` answers.
   */
  metrics(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The content type of {@linkcode MetricsRegistry.metrics}'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /**
   * Adds prom-client's default process metrics (event loop lag, heap, GC, CPU time…), less
   * the ones that are wrong under Deno, with the resident set size read from Deno.
   */
  collectDefaultMetrics(): void {
    collectDefaultMetrics({ register: this.#registry });
    // prom-client names these gauges "*_total", which `promtool check metrics` rejects (the
    // suffix is reserved for counters); their counts of Node handles mean little under Deno.
    for (const name of NON_CONFORMING_DEFAULT_METRICS) this.#registry.removeSingleMetric(name);
    for (const name of PROC_SELF_DEFAULT_METRICS) this.#registry.removeSingleMetric(name);
    this.gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }
}

/** What the registry is labelled with. */
export interface RegistryInit {
  /** hopd's version, exported as `hopd_build_info{version}`. */
  readonly version: string;
  /** Collect prom-client's default process metrics. @default true */
  readonly defaultMetrics?: boolean;
}

/**
 * Creates the process's registry with default metrics and `hopd_build_info`.
 *
 * @param init Version label and options.
 * @returns The registry.
 */
export function createRegistry(init: RegistryInit): MetricsRegistry {
  const registry = new MetricsRegistry();
  if (init.defaultMetrics ?? true) registry.collectDefaultMetrics();
  const buildInfo = registry.gauge({
    name: "hopd_build_info",
    help: "Build information; the value is always 1.",
    labelNames: ["version", "deno", "v8", "typescript"] as const,
  });
  buildInfo.set({
    version: init.version,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  }, 1);
  return registry;
}
