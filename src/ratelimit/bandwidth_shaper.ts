/**
 * Bandwidth caps in bytes per second per circuit direction, per peer (the sum of its
 * circuits) and global, shared fairly between peers.
 *
 * Each relayed direction is a {@linkcode Flow}: after moving a chunk, the data path calls
 * `flow.consume(nowMs, bytes)` and pauses reading for the milliseconds it returns. A flow
 * charges a debt bucket of its own (the per-circuit cap) and its peer's bucket. The peer's
 * rate is `min(perPeer, global / activePeers)`, where a peer is active if it moved bytes in
 * the last second: under global congestion every active peer gets at least an equal share,
 * so a peer saturating many circuits cannot starve one with a single circuit, and the sum of
 * peer rates never exceeds the global cap. The price is that capacity an active peer leaves
 * unused is not lent to the others (the shaper is not work-conserving).
 *
 * With every cap at 0 (the default), `openFlow` returns a shared flow whose `consume` returns
 * 0 and tracks nothing. Such flows stay unlimited if caps are set later; circuits end within
 * their duration limit, so new caps reach all traffic within it.
 *
 * @module
 */

import {
  BANDWIDTH_ACTIVE_WINDOW_MS,
  BANDWIDTH_BURST_MS,
  BANDWIDTH_SCAN_INTERVAL_MS,
} from "./constants.ts";

/** Byte rates; 0 = unlimited. */
export interface BandwidthCaps {
  /** Per direction of one circuit. @default 0 */
  readonly perCircuitBytesPerSecond: number;
  /** Sum over a peer's circuits. @default 0 */
  readonly perPeerBytesPerSecond: number;
  /** Sum over every circuit. @default 0 */
  readonly globalBytesPerSecond: number;
}

/** One shaped direction of a circuit. */
export interface Flow {
  /**
   * Charges bytes just relayed (or about to be) and answers how long to pause reading.
   *
   * @param nowMs Current time.
   * @param bytes Bytes moved.
   * @returns Milliseconds to wait before reading more (whole, rounded up); 0 = go on.
   */
  consume(nowMs: number, bytes: number): number;
  /** Releases the flow; later `consume` calls return 0. Idempotent. */
  close(): void;
}

/** A flow for unlimited traffic: no state, no cost. */
export const UNLIMITED_FLOW: Flow = Object.freeze({
  consume(): number {
    return 0;
  },
  close(): void {},
});

interface PeerState {
  readonly key: string;
  flows: number;
  tokens: number;
  lastMs: number;
  active: boolean;
  activeUntilMs: number;
}

interface FlowState {
  readonly peer: PeerState;
  tokens: number;
  lastMs: number;
  closed: boolean;
}

/** Fair bandwidth caps per circuit, per peer and global. */
export class BandwidthShaper {
  #caps: BandwidthCaps;
  #factor = 1;
  #factorUntilMs = Infinity;
  #circuitPerMs = 0;
  #peerPerMs = 0;
  #globalPerMs = 0;
  #peers = new Map<string, PeerState>();
  #activePeers = 0;
  #nextScanMs = -Infinity;
  #throttledMs = 0;

  /**
   * @param caps Byte rates; 0 = unlimited.
   * @throws {RangeError} A negative or non-finite cap.
   * @example
   * ```ts
   * import { BandwidthShaper } from "./bandwidth_shaper.ts";
   * const shaper = new BandwidthShaper({
   *   perCircuitBytesPerSecond: 0, perPeerBytesPerSecond: 1_000_000, globalBytesPerSecond: 0,
   * });
   * const flow = shaper.openFlow("12D3KooW...");
   * const waitMs = flow.consume(0, 2_000_000); // > 0: pause reading this long
   * flow.close();
   * ```
   */
  constructor(caps: BandwidthCaps) {
    this.#caps = checkCaps(caps);
    this.#derive();
  }

  /** The configured caps (before the throttle factor). */
  get caps(): BandwidthCaps {
    return this.#caps;
  }

  /** Whether every cap is 0: flows are then free. */
  get unlimited(): boolean {
    return this.#caps.perCircuitBytesPerSecond === 0 && this.#caps.perPeerBytesPerSecond === 0 &&
      this.#caps.globalBytesPerSecond === 0;
  }

  /** Total pause asked of flows, in ms, summed over flows (two flows paused 1 s add 2 s). */
  get throttledMs(): number {
    return this.#throttledMs;
  }

  /** Peers with an open flow. */
  get peers(): number {
    return this.#peers.size;
  }

  /** Peers that moved bytes within the last second (as of the last consume). */
  get activePeers(): number {
    return this.#activePeers;
  }

  /**
   * Replaces the caps; open shaped flows follow the new rates at their next consume.
   *
   * @param caps Byte rates; 0 = unlimited.
   * @throws {RangeError} A negative or non-finite cap.
   */
  setCaps(caps: BandwidthCaps): void {
    this.#caps = checkCaps(caps);
    this.#derive();
  }

  /**
   * Scales every cap by `factor` until `untilMs` (then back to 1).
   *
   * @param factor 0 < factor ≤ 1.
   * @param untilMs When the factor lapses. @default Infinity
   */
  setFactor(factor: number, untilMs = Infinity): void {
    this.#factor = factor;
    this.#factorUntilMs = untilMs;
    this.#derive();
  }

  /**
   * Opens a flow for one direction of a circuit of `peerKey`.
   *
   * @param peerKey The peer whose share it uses (peer ID text).
   * @param exempt True for allowlisted peers: the flow is unlimited.
   * @returns The flow; {@linkcode UNLIMITED_FLOW} when exempt or when no cap is set.
   */
  openFlow(peerKey: string, exempt = false): Flow {
    if (exempt || this.unlimited) return UNLIMITED_FLOW;
    let peer = this.#peers.get(peerKey);
    if (peer === undefined) {
      peer = {
        key: peerKey,
        flows: 0,
        tokens: 0,
        lastMs: -Infinity,
        active: false,
        activeUntilMs: 0,
      };
      this.#peers.set(peerKey, peer);
    }
    peer.flows++;
    const state: FlowState = { peer, tokens: 0, lastMs: -Infinity, closed: false };
    return {
      consume: (nowMs, bytes) => this.#consume(state, nowMs, bytes),
      close: () => this.#close(state),
    };
  }

  #consume(flow: FlowState, nowMs: number, bytes: number): number {
    if (flow.closed) return 0;
    if (nowMs >= this.#factorUntilMs) this.setFactor(1);
    let waitMs = 0;
    const circuitPerMs = this.#circuitPerMs;
    if (circuitPerMs > 0) {
      const elapsedMs = nowMs - flow.lastMs;
      const burst = circuitPerMs * BANDWIDTH_BURST_MS;
      let tokens = flow.tokens;
      if (elapsedMs > 0) tokens += elapsedMs * circuitPerMs;
      if (tokens > burst) tokens = burst;
      tokens -= bytes;
      flow.tokens = tokens;
      flow.lastMs = nowMs;
      if (tokens < 0) waitMs = -tokens / circuitPerMs;
    }
    const peer = flow.peer;
    if (!peer.active) {
      peer.active = true;
      this.#activePeers++;
    }
    peer.activeUntilMs = nowMs + BANDWIDTH_ACTIVE_WINDOW_MS;
    if (nowMs >= this.#nextScanMs) this.#scanActive(nowMs);
    let peerPerMs = this.#peerPerMs;
    if (this.#globalPerMs > 0) {
      const share = this.#globalPerMs / this.#activePeers;
      if (peerPerMs === 0 || share < peerPerMs) peerPerMs = share;
    }
    if (peerPerMs > 0) {
      const elapsedMs = nowMs - peer.lastMs;
      const burst = peerPerMs * BANDWIDTH_BURST_MS;
      let tokens = peer.tokens;
      if (elapsedMs > 0) tokens += elapsedMs * peerPerMs;
      if (tokens > burst) tokens = burst;
      tokens -= bytes;
      peer.tokens = tokens;
      peer.lastMs = nowMs;
      if (tokens < 0 && -tokens / peerPerMs > waitMs) waitMs = -tokens / peerPerMs;
    }
    if (waitMs === 0) return 0;
    waitMs = Math.ceil(waitMs);
    this.#throttledMs += waitMs;
    return waitMs;
  }

  /** Marks peers idle for a second as inactive, so the active count (the divisor) is fresh. */
  #scanActive(nowMs: number): void {
    this.#nextScanMs = nowMs + BANDWIDTH_SCAN_INTERVAL_MS;
    for (const peer of this.#peers.values()) {
      if (peer.active && peer.activeUntilMs < nowMs) {
        peer.active = false;
        this.#activePeers--;
      }
    }
  }

  #close(flow: FlowState): void {
    if (flow.closed) return;
    flow.closed = true;
    const peer = flow.peer;
    if (--peer.flows > 0) return;
    if (peer.active) this.#activePeers--;
    this.#peers.delete(peer.key);
  }

  #derive(): void {
    const scale = this.#factor / 1000;
    this.#circuitPerMs = this.#caps.perCircuitBytesPerSecond * scale;
    this.#peerPerMs = this.#caps.perPeerBytesPerSecond * scale;
    this.#globalPerMs = this.#caps.globalBytesPerSecond * scale;
  }
}

function checkCaps(caps: BandwidthCaps): BandwidthCaps {
  for (
    const name of [
      "perCircuitBytesPerSecond",
      "perPeerBytesPerSecond",
      "globalBytesPerSecond",
    ] as const
  ) {
    const value = caps[name];
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `'bandwidth.${name}' must be a finite number ≥ 0: current value is ${value}`,
      );
    }
  }
  return { ...caps };
}
