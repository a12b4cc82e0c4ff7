/**
 * The node's one lifecycle state: whether its libp2p listeners are up, whether an operator
 * or a policy asked it to drain, and whether it is shutting down. Everything that asks "is
 * the node draining?" (the connection gate, the relay, the federation's reports, the policy
 * actuator, /ready, `hopd_draining`) reads it here, so there is one answer.
 *
 * Draining is the union of a requested drain and a shutdown: both refuse new connections and
 * reservations and keep what is open. A listener registered with {@linkcode NodeState.onDrainChange}
 * hears every change of that union, once.
 *
 * @example
 * ```ts
 * import { NodeState } from "./node_state.ts";
 * const state = new NodeState();
 * const heard: boolean[] = [];
 * state.onDrainChange((draining) => heard.push(draining));
 * state.setListening(true);
 * state.requestDrain(true);
 * state.readiness({ verdict: "healthy", reasons: [] }); // { ready: false, reasons: ["node is draining"] }
 * state.beginShutdown(); // still draining: no second notice
 * // heard = [true]
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Readiness } from "../ops/mod.ts";
import type { Health } from "../policy/mod.ts";

const log = getLogger(["hopd", "daemon"]);

/** The health of a node without a policy engine. */
export const HEALTHY: Health = { verdict: "healthy", reasons: [] };

/** Listening, drain and shutdown flags of the running node. */
export class NodeState {
  #listening = false;
  #drainRequested = false;
  #stopping = false;
  readonly #listeners: ((draining: boolean) => void)[] = [];
  readonly #checks: (() => string | undefined)[] = [];

  /** Whether new connections and reservations are refused (a drain or a shutdown). */
  isDraining(): boolean {
    return this.#drainRequested || this.#stopping;
  }

  /** Whether the node is shutting down. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Calls `listener` with the new value each time {@linkcode NodeState.isDraining} changes.
   *
   * @param listener Must not throw.
   */
  onDrainChange(listener: (draining: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Adds a condition /ready reports: while `check` returns a reason, the node is not ready.
   *
   * @param check Returns why the node cannot serve as it should, or undefined; must not throw.
   */
  addReadinessCheck(check: () => string | undefined): void {
    this.#checks.push(check);
  }

  /** Notes whether the libp2p listeners are up. */
  setListening(listening: boolean): void {
    this.#listening = listening;
  }

  /**
   * Starts or ends a requested drain (admin API, policies) and logs it.
   *
   * @returns False when the request was already in effect.
   */
  requestDrain(draining: boolean): boolean {
    if (draining === this.#drainRequested) return false;
    this.#change(() => this.#drainRequested = draining);
    log.info(
      draining
        ? "Draining: refusing new connections and reservations"
        : "Drain ended: accepting connections",
    );
    return true;
  }

  /** Marks the node as shutting down (draining from now on, for good). */
  beginShutdown(): void {
    this.#change(() => this.#stopping = true);
  }

  /**
   * What /ready answers.
   *
   * @param health The policies' judgement of the node.
   * @returns Ready when the listeners are up, the node neither drains nor stops, every
   * readiness check passes and no policy finds it unhealthy; otherwise the reasons.
   */
  readiness(health: Health): Readiness {
    const reasons: string[] = [];
    if (!this.#listening) reasons.push("libp2p listeners are not up");
    if (this.#stopping) reasons.push("node is shutting down");
    else if (this.#drainRequested) reasons.push("node is draining");
    for (const check of this.#checks) {
      const reason = check();
      if (reason !== undefined) reasons.push(reason);
    }
    if (health.verdict === "unhealthy") {
      reasons.push(...health.reasons.map((reason) => `unhealthy: ${reason}`));
    }
    return { ready: reasons.length === 0, reasons };
  }

  #change(update: () => void): void {
    const before = this.isDraining();
    update();
    const after = this.isDraining();
    if (after === before) return;
    for (const listener of this.#listeners) listener(after);
  }
}
