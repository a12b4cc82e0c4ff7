/**
 * The process's CPU time, read as deltas: the federation's load reports (`load_sampler.ts`)
 * and the policy snapshot (`policy_snapshot.ts`) each hold one meter and turn what it took
 * since their previous sample into a rate over their own interval.
 *
 * @example
 * ```ts
 * import { CpuMeter } from "./cpu_meter.ts";
 * const meter = new CpuMeter();
 * meter.takeSeconds(); // CPU seconds (user + system) since the meter was made
 * ```
 *
 * @module
 */

import { cpuUsage } from "node:process";

/** CPU time used so far, in microseconds (node:process's `cpuUsage()` shape). */
export type CpuUsage = () => { readonly user: number; readonly system: number };

/** Hands out the CPU time used between two reads. */
export class CpuMeter {
  readonly #read: CpuUsage;
  #lastMicros: number;

  /** @param read Reads the process's CPU time (node:process's `cpuUsage` unless given). */
  constructor(read: CpuUsage = cpuUsage) {
    this.#read = read;
    this.#lastMicros = this.#micros();
  }

  /**
   * The CPU seconds (user + system) the process used since the previous call, or since the
   * meter was made.
   */
  takeSeconds(): number {
    const now = this.#micros();
    const seconds = Math.max(0, now - this.#lastMicros) / 1e6;
    this.#lastMicros = now;
    return seconds;
  }

  #micros(): number {
    const { user, system } = this.#read();
    return user + system;
  }
}
