/**
 * How many file descriptors are still free, so hopd refuses new sockets before EMFILE.
 *
 * Deno gives a program under hopd's permission set no way to read RLIMIT_NOFILE or count its
 * descriptors (/proc/self needs --allow-all; there is no getrlimit), so the budget asks the
 * kernel directly: it opens /dev/null until it has `reserve + step` descriptors or EMFILE,
 * closes them, and so knows how many are free (or that at least that many are). The probe
 * runs synchronously, so no accept runs beside it. Between probes the budget counts the
 * sockets the guard admits and closes; it probes again when that count has used up what the
 * last probe found, and on a timer (other parts of hopd open files and dial out too).
 *
 * @module
 */

import type { Clock } from "../clock/mod.ts";
import { FD_PROBE_STEP, FD_RECHECK_FAR_MS, FD_RECHECK_NEAR_MS } from "./constants.ts";

/** Counts free file descriptors, up to a bound. */
export interface FdProbe {
  /**
   * Opens descriptors until `max` are open or the process limit is hit, then closes them.
   *
   * @returns How many could be opened (`max` means "at least `max`").
   */
  free(max: number): number;
}

/** The probe on Deno: /dev/null opened synchronously. */
export function denoFdProbe(): FdProbe {
  return {
    free(max) {
      const files: Deno.FsFile[] = [];
      try {
        while (files.length < max) files.push(Deno.openSync("/dev/null"));
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== "EMFILE" && code !== "ENFILE") throw error;
      } finally {
        for (const file of files) file.close();
      }
      return files.length;
    },
  };
}

/** What the budget needs. */
export interface FdBudgetInit {
  /** Descriptors kept free for hopd itself; 0 turns the budget off. */
  readonly reserve: number;
  /** Counts the process's open descriptors (a real probe reads /proc/self/fd). */
  readonly probe: FdProbe;
  /** Spaces the probes out. */
  readonly clock: Clock;
}

/** The file descriptors the socket guard may still spend. */
export class FdBudget {
  readonly #init: FdBudgetInit;
  #open = 0;
  #openAtProbe = 0;
  #freeAtProbe = Infinity;
  #capped = true;
  #probedAtMs = -Infinity;
  #probes = 0;

  /** Creates a budget over `init.probe`; nothing is probed yet. */
  constructor(init: FdBudgetInit) {
    this.#init = init;
  }

  /** Descriptors kept free. */
  get reserve(): number {
    return this.#init.reserve;
  }

  /** Probes run so far. */
  get probes(): number {
    return this.#probes;
  }

  /** A guarded socket was admitted. */
  opened(): void {
    this.#open++;
  }

  /** A guarded socket closed. */
  closed(): void {
    this.#open--;
  }

  /**
   * Free descriptors as last known: exact when below `reserve + FD_PROBE_STEP`, else a
   * lower bound. Infinity before the first probe or with the budget off.
   */
  free(): number {
    return this.#freeAtProbe - (this.#open - this.#openAtProbe);
  }

  /**
   * Whether one more socket fits with `keep` descriptors still free after it. Probes when
   * the last probe's figure is used up or stale.
   *
   * @param keep Descriptors that must stay free (the reserve for libp2p listeners, part of
   *   it for the ops server).
   * @returns True when it fits.
   */
  fits(keep: number): boolean {
    if (this.#init.reserve === 0) return true;
    const nowMs = this.#init.clock.nowMs();
    const staleAfterMs = this.#capped ? FD_RECHECK_FAR_MS : FD_RECHECK_NEAR_MS;
    if (
      nowMs - this.#probedAtMs >= staleAfterMs || (this.#capped && this.free() - 1 < keep)
    ) {
      this.#probeNow(nowMs);
    }
    return this.free() - 1 >= keep;
  }

  #probeNow(nowMs: number): void {
    const max = this.#init.reserve + FD_PROBE_STEP;
    const free = this.#init.probe.free(max);
    this.#probes++;
    this.#freeAtProbe = free;
    this.#capped = free >= max;
    this.#openAtProbe = this.#open;
    this.#probedAtMs = nowMs;
  }
}
