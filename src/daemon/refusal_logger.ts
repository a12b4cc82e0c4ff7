/**
 * When this relay refuses a reservation because it is full or draining, log where the
 * client could go instead (the federation's best other relays for it). At most one line per
 * REFUSAL_LOG_INTERVAL_MS, with the count of refusals folded into it, so a flood of refused
 * clients cannot flood the log.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { RankedRelay } from "../balancer/mod.ts";

const log = getLogger(["hopd", "federation"]);

/** Refusal reasons another relay can help with (per-IP limits follow the client). */
const REDIRECTABLE = new Set(["total_limit", "draining"]);

/** What the logger needs. */
export interface RefusalLoggerInit {
  /** The best other relays for a peer. */
  alternatives(peer: string): readonly RankedRelay[];
  /** Least time between two log lines. */
  readonly intervalMs: number;
  /** @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/** Logs the alternatives of refused reservations, rate limited. */
export class RefusalLogger {
  readonly #init: RefusalLoggerInit;
  readonly #clock: Clock;
  #lastAtMs = -Infinity;
  #folded = 0;

  constructor(init: RefusalLoggerInit) {
    this.#init = init;
    this.#clock = init.clock ?? SYSTEM_CLOCK;
  }

  /**
   * Notes one refused reservation.
   *
   * @param peer The refused peer.
   * @param reason The reservation store's reason.
   * @returns Whether a line was logged.
   */
  refused(peer: string, reason: string): boolean {
    if (!REDIRECTABLE.has(reason)) return false;
    const nowMs = this.#clock.nowMs();
    if (nowMs - this.#lastAtMs < this.#init.intervalMs) {
      this.#folded++;
      return false;
    }
    this.#lastAtMs = nowMs;
    const alternatives = this.#init.alternatives(peer).map((relay) => ({
      peerId: relay.peerId,
      addr: relay.addrs[0] ?? "",
    }));
    log.info(
      "Refused a reservation for {peer} ({reason}); alternatives: {alternatives}",
      { peer, reason, alternatives, alsoRefusedSinceLastLine: this.#folded },
    );
    this.#folded = 0;
    return true;
  }
}
