/**
 * This relay's load as the federation reports it: reservations and circuits live from the
 * relay, relayed bytes per second per direction from hopd_relayed_bytes_total, CPU (fraction
 * of one core) and RSS of the process, sampled once per report interval. Reading the
 * registry keeps the relay free of federation bookkeeping (the policy snapshot does the same).
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { CpuMeter } from "./cpu_meter.ts";

/** The sampled part of the load (rates over the last interval). */
export interface SampledLoad {
  readonly bytesPerSecondIn: number;
  readonly bytesPerSecondOut: number;
  /** CPU of the process over the last interval, fraction of one core. */
  readonly cpu: number;
  readonly memoryBytes: number;
}

/** What the sampler reads. */
export interface LoadSamplerSources {
  readonly registry: MetricsRegistry;
  readonly relay: Pick<Relay, "stats">;
  /** The sampling timer and the rates' time base. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/** Samples rates on a timer; {@linkcode LoadSampler.current} returns the latest. */
export class LoadSampler {
  readonly #s: LoadSamplerSources;
  readonly #clock: Clock;
  #timer: TimerId | undefined;
  #atMs: number;
  readonly #cpu = new CpuMeter();
  #bytes = { in: 0, out: 0 };
  #current: SampledLoad = { bytesPerSecondIn: 0, bytesPerSecondOut: 0, cpu: 0, memoryBytes: 0 };

  /** @param sources The registry and the relay. */
  constructor(sources: LoadSamplerSources) {
    this.#s = sources;
    this.#clock = sources.clock ?? SYSTEM_CLOCK;
    this.#atMs = this.#clock.nowMs();
  }

  /** Samples every `intervalMs` (a first sample at once). */
  start(intervalMs: number): void {
    void this.sample();
    this.#timer = this.#clock.setInterval(() => void this.sample(), intervalMs);
  }

  stop(): void {
    this.#clock.clearInterval(this.#timer);
  }

  /** The latest sample. */
  current(): SampledLoad {
    return this.#current;
  }

  /** Takes one sample now. Never throws (a failed read keeps the previous sample). */
  async sample(): Promise<void> {
    try {
      // stats() moves the bytes of live circuits into the counter first.
      this.#s.relay.stats();
      const bytes = { in: 0, out: 0 };
      for (const { value, labels } of await this.#s.registry.values("hopd_relayed_bytes_total")) {
        if (labels.direction === "src_to_dst") bytes.in += value;
        else if (labels.direction === "dst_to_src") bytes.out += value;
      }
      const nowMs = this.#clock.nowMs();
      const seconds = Math.max(0.001, (nowMs - this.#atMs) / 1_000);
      const cpuSeconds = this.#cpu.takeSeconds();
      this.#current = {
        bytesPerSecondIn: Math.max(0, (bytes.in - this.#bytes.in) / seconds),
        bytesPerSecondOut: Math.max(0, (bytes.out - this.#bytes.out) / seconds),
        cpu: Math.max(0, cpuSeconds / seconds),
        memoryBytes: Deno.memoryUsage().rss,
      };
      this.#atMs = nowMs;
      this.#bytes = bytes;
    } catch {
      // Keep the previous sample; the next tick tries again.
    }
  }
}
