/**
 * Bandwidth caps in bytes per second per circuit direction, per peer (the sum of its
 * circuits) and global, shared fairly between peers.
 *
 * Each relayed direction is a {@linkcode Flow}. Before moving bytes, the data path asks
 * `flow.take(nowMs, bytes)`: the shaper grants them only if every bucket the flow is under
 * holds that many tokens, and charges them all at once; otherwise it grants nothing and
 * `flow.retryAfterMs` says when to ask again. Nothing moves on credit, so the bytes relayed
 * in any window of `T` seconds stay within `rate × T + burst` for each cap, however late the
 * data path's timers fire: a late timer finds at most a full bucket (`burst`), never a debt
 * to forgive. A bucket holds `rate × burstMs` (`limits.bandwidth_burst`), and at least
 * {@linkcode BANDWIDTH_MIN_BURST_BYTES} so that a slow cap still grants a whole piece.
 *
 * A flow is under its own bucket (the per-circuit cap), its peer's bucket and the global
 * bucket. The peer's rate is `min(perPeer, global / activePeers)`, where a peer is active if
 * it moved bytes in the last second: under global congestion every active peer gets at least
 * an equal share, so a peer saturating many circuits cannot starve one with a single
 * circuit. The global bucket holds the sum to the global cap while the active count changes.
 * The price is that capacity an active peer leaves unused is not lent to the others (the
 * shaper is not work-conserving).
 *
 * With every cap at 0 (the default), `openFlow` returns a shared flow that grants everything
 * and tracks nothing. Such flows stay unlimited if caps are set later; circuits end within
 * their duration limit, so new caps reach all traffic within it.
 *
 * @module
 */

import {
  BANDWIDTH_ACTIVE_WINDOW_MS,
  BANDWIDTH_MIN_BURST_BYTES,
  BANDWIDTH_SCAN_INTERVAL_MS,
} from "./constants.ts";

export { BANDWIDTH_MIN_BURST_BYTES };

/** Byte rates (0 = unlimited) and the burst each bucket allows. */
export interface BandwidthCaps {
  /** Per direction of one circuit. */
  readonly perCircuitBytesPerSecond: number;
  /** Sum over a peer's circuits. */
  readonly perPeerBytesPerSecond: number;
  /** Sum over every circuit. */
  readonly globalBytesPerSecond: number;
  /**
   * Burst of every bucket, as time at its rate (at least {@linkcode BANDWIDTH_MIN_BURST_BYTES}).
   */
  readonly burstMs: number;
}

/** One shaped direction of a circuit. */
export interface Flow {
  /**
   * Asks to relay up to `bytes` now. Grants them (or, past the tightest bucket's burst, as
   * many as it holds at most) only when every bucket of the flow holds them, and charges
   * them at once; grants nothing otherwise.
   *
   * @param nowMs Current time.
   * @param bytes Bytes the data path wants to move (> 0).
   * @returns Bytes granted, to move now; 0 = none, ask again in `retryAfterMs`.
   */
  take(nowMs: number, bytes: number): number;
  /** After `take` granted nothing: whole milliseconds until it can (≥ 1). */
  readonly retryAfterMs: number;
  /** Releases the flow; later `take` calls grant everything. Idempotent. */
  close(): void;
}

/** A flow for unlimited traffic: no state, no cost. */
export const UNLIMITED_FLOW: Flow = Object.freeze({
  take(_nowMs: number, bytes: number): number {
    return bytes;
  },
  retryAfterMs: 0,
  close(): void {},
});

/** A token bucket's state; its rate and size come from the caps in force. */
interface Bucket {
  tokens: number;
  lastMs: number;
}

interface PeerState extends Bucket {
  readonly key: string;
  flows: number;
  active: boolean;
  activeUntilMs: number;
}

interface FlowState extends Bucket {
  readonly peer: PeerState;
  closed: boolean;
  retryAfterMs: number;
}

/** A new bucket starts full. */
function fullBucket(): Bucket {
  return { tokens: Infinity, lastMs: -Infinity };
}

/** Adds to `bucket` what it earned at `perMs` since it was last refilled, as of `nowMs`. */
function refill(bucket: Bucket, perMs: number, nowMs: number): void {
  const elapsedMs = nowMs - bucket.lastMs;
  if (elapsedMs > 0) {
    bucket.tokens += elapsedMs * perMs;
    bucket.lastMs = nowMs;
  }
}

/** Caps `bucket` at `size` tokens (its burst); returns its tokens. */
function capAt(bucket: Bucket, size: number): number {
  if (bucket.tokens > size) bucket.tokens = size;
  return bucket.tokens;
}

/** Fair bandwidth caps per circuit, per peer and global. */
export class BandwidthShaper {
  #caps: BandwidthCaps;
  #factor = 1;
  #factorUntilMs = Infinity;
  #circuitPerMs = 0;
  #peerPerMs = 0;
  #globalPerMs = 0;
  readonly #global: Bucket = fullBucket();
  #peers = new Map<string, PeerState>();
  #activePeers = 0;
  #nextScanMs = -Infinity;
  #throttledMs = 0;

  /**
   * Creates a shaper with the given caps and no flows.
   *
   * @param caps Byte rates (0 = unlimited) and the burst.
   * @throws {RangeError} A negative or non-finite cap or burst.
   * @example
   * ```ts
   * import { BandwidthShaper } from "./bandwidth_shaper.ts";
   * const shaper = new BandwidthShaper({
   *   perCircuitBytesPerSecond: 0,
   *   perPeerBytesPerSecond: 1_000_000,
   *   globalBytesPerSecond: 0,
   *   burstMs: 100,
   * });
   * const flow = shaper.openFlow("12D3KooW...");
   * flow.take(0, 16_384); // 16384: within the 100 kB burst, move it now
   * flow.take(0, 100_000); // 0: the bucket holds 83,616 bytes
   * flow.retryAfterMs; // 17: the 16,384 missing bytes refill in 16.4 ms
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

  /** Total wait asked of flows, in ms, summed over flows (two flows paused 1 s add 2 s). */
  get throttledMs(): number {
    return this.#throttledMs;
  }

  /** Peers with an open flow. */
  get peers(): number {
    return this.#peers.size;
  }

  /** Peers that moved bytes within the last second (as of the last take). */
  get activePeers(): number {
    return this.#activePeers;
  }

  /**
   * Replaces the caps; open shaped flows follow the new rates at their next take.
   *
   * @param caps Byte rates (0 = unlimited) and the burst.
   * @throws {RangeError} A negative or non-finite cap or burst.
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
      peer = { ...fullBucket(), key: peerKey, flows: 0, active: false, activeUntilMs: 0 };
      this.#peers.set(peerKey, peer);
    }
    peer.flows++;
    const state: FlowState = { ...fullBucket(), peer, closed: false, retryAfterMs: 0 };
    return {
      take: (nowMs, bytes) => this.#take(state, nowMs, bytes),
      get retryAfterMs() {
        return state.retryAfterMs;
      },
      close: () => this.#close(state),
    };
  }

  /**
   * Grants `bytes` (at most the smallest burst) if every bucket of the flow holds them:
   * the flow's own (per-circuit cap), its peer's (per-peer cap or fair share of the global
   * cap) and the global one. Otherwise grants nothing and notes when the fullest deficit
   * will have refilled.
   */
  #take(flow: FlowState, nowMs: number, bytes: number): number {
    if (flow.closed) return bytes;
    if (nowMs >= this.#factorUntilMs) this.setFactor(1);
    const peer = flow.peer;
    if (!peer.active) {
      peer.active = true;
      this.#activePeers++;
    }
    peer.activeUntilMs = nowMs + BANDWIDTH_ACTIVE_WINDOW_MS;
    if (nowMs >= this.#nextScanMs) this.#scanActive(nowMs);

    const circuitPerMs = this.#circuitPerMs;
    const globalPerMs = this.#globalPerMs;
    let peerPerMs = this.#peerPerMs;
    if (globalPerMs > 0) {
      const share = globalPerMs / this.#activePeers;
      if (peerPerMs === 0 || share < peerPerMs) peerPerMs = share;
    }
    const burstMs = this.#caps.burstMs;
    let want = bytes;
    let circuitTokens = Infinity;
    let peerTokens = Infinity;
    let globalTokens = Infinity;
    if (circuitPerMs > 0) {
      const size = bucketSize(circuitPerMs, burstMs);
      if (want > size) want = size;
      refill(flow, circuitPerMs, nowMs);
      circuitTokens = capAt(flow, size);
    }
    if (peerPerMs > 0) {
      const size = bucketSize(peerPerMs, burstMs);
      if (want > size) want = size;
      refill(peer, peerPerMs, nowMs);
      peerTokens = capAt(peer, size);
    }
    if (globalPerMs > 0) {
      const size = bucketSize(globalPerMs, burstMs);
      if (want > size) want = size;
      refill(this.#global, globalPerMs, nowMs);
      globalTokens = capAt(this.#global, size);
    }
    if (circuitTokens >= want && peerTokens >= want && globalTokens >= want) {
      if (circuitPerMs > 0) flow.tokens -= want;
      if (peerPerMs > 0) peer.tokens -= want;
      if (globalPerMs > 0) this.#global.tokens -= want;
      return want;
    }
    let waitMs = 0;
    if (circuitTokens < want) waitMs = (want - circuitTokens) / circuitPerMs;
    if (peerTokens < want) waitMs = Math.max(waitMs, (want - peerTokens) / peerPerMs);
    if (globalTokens < want) waitMs = Math.max(waitMs, (want - globalTokens) / globalPerMs);
    flow.retryAfterMs = Math.max(1, Math.ceil(waitMs));
    this.#throttledMs += flow.retryAfterMs;
    return 0;
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

/** Bytes a bucket filling at `perMs` holds: its burst, and at least one whole piece. */
function bucketSize(perMs: number, burstMs: number): number {
  const size = perMs * burstMs;
  return size > BANDWIDTH_MIN_BURST_BYTES ? size : BANDWIDTH_MIN_BURST_BYTES;
}

function checkCaps(caps: BandwidthCaps): BandwidthCaps {
  for (
    const name of [
      "perCircuitBytesPerSecond",
      "perPeerBytesPerSecond",
      "globalBytesPerSecond",
      "burstMs",
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
