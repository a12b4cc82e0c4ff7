/**
 * The data path: one relayed circuit pipes the initiator's hop stream and the target's stop
 * stream into each other, with backpressure both ways (a full destination pauses the
 * source until 'drain'), half-closes propagated, and the advertised limits enforced
 * exactly: at most `dataBytes` per direction and `durationMs` of life. On a limit both
 * streams are closed cleanly (FIN), then reset if the peers do not close within a grace
 * period; a reset on either side resets the other.
 *
 * The chunks that arrive in one task go on with one `send` (see `#forward`); per chunk
 * the path does integer adds, and a list append when a task brings several: no logging,
 * no metrics calls. A shaped direction asks its
 * bandwidth flow before each piece of at most 16 KiB moves and sends only what it granted,
 * so a cap holds in any window whatever the timers' lateness (see `#forwardShaped`).
 *
 * @module
 */

import type { PeerId, Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import type { BandwidthFlow } from "./mod.ts";
import {
  BATCH_CHUNK_MAX_BYTES,
  CIRCUIT_CLOSE_GRACE_MS,
  CIRCUIT_READ_BUFFER_BYTES,
  SHAPING_QUANTUM_BYTES,
} from "./constants.ts";

/** Limits enforced on a circuit; 0 = unlimited. */
export interface CircuitLimit {
  readonly durationMs: number;
  readonly dataBytes: number;
}

/** Why a circuit ended. */
export type CircuitEndReason = "closed" | "reset" | "data_limit" | "duration_limit" | "stopped";

/**
 * Who ended a circuit: the side whose stream closed or reset first (the initiator is the
 * peer that dialed through the relay, the target the one that reserved), or the relay (a
 * limit, or the relay stopping).
 */
export type CircuitEndedBy = "initiator" | "target" | "relay";

/** Error a stream is reset with when the relay cuts it. */
export class CircuitCutError extends Error {
  override name = "CircuitCutError";
}

/** Called once, when both streams are closed. */
export type CircuitEndHandler = (
  circuit: Circuit,
  reason: CircuitEndReason,
  endedBy: CircuitEndedBy,
) => void;

/** What a {@linkcode Circuit} relays between, and under which limits. */
export interface CircuitInit {
  /** The initiator's hop stream (after STATUS OK). */
  readonly src: Stream;
  /** The target's stop stream (after its STATUS OK). */
  readonly dst: Stream;
  /** Limits to enforce, exactly as advertised. */
  readonly limit: CircuitLimit;
  /** Key of the initiator, for slot accounting. */
  readonly sourceKey: string;
  /** Called once when both streams are closed. */
  readonly onEnd: CircuitEndHandler;
  /** Initiator and target, for listings (absent in unit tests). */
  readonly peers?: { readonly source: PeerId; readonly target: PeerId };
  /** Bandwidth flows for each direction; absent = unshaped. */
  readonly flows?: { readonly up: BandwidthFlow; readonly down: BandwidthFlow };
  /**
   * The data path's clock: flows are charged at its `nowMs()` (the limiter's clock), limits
   * and shaping pauses run on its timers. @default SYSTEM_CLOCK
   */
  readonly clock?: Clock;
}

/** Bytes `begin` to `end` of a chunk, without copying. */
function slice(
  data: Uint8Array | Uint8ArrayList,
  begin: number,
  end: number,
): Uint8Array | Uint8ArrayList {
  return data instanceof Uint8Array ? data.subarray(begin, end) : data.sublist(begin, end);
}

/** One direction of a circuit. */
class Half {
  bytes = 0;
  closed = false;
  /** True while reading is paused by the bandwidth shaper (not by backpressure). */
  shaping = false;
  /** The shaper's pending resume, if any. */
  shapingTimer: TimerId | undefined;
  /** Chunks received in the current task, sent on together when it ends (see `#forward`). */
  batch: Uint8Array | Uint8ArrayList | undefined = undefined;
  /** True once `batch` is a list of our own (chunks may be lists of the muxer's). */
  batchIsOurs = false;
  readonly from: Stream;
  readonly to: Stream;
  /** The peer behind `from`. */
  readonly peer: "initiator" | "target";
  readonly flow: BandwidthFlow | undefined;

  constructor(
    init: { from: Stream; to: Stream; peer: "initiator" | "target"; flow?: BandwidthFlow },
  ) {
    this.from = init.from;
    this.to = init.to;
    this.peer = init.peer;
    this.flow = init.flow;
  }
}

/** A direction with a bandwidth flow. */
type ShapedHalf = Half & { readonly flow: BandwidthFlow };

function isShaped(half: Half): half is ShapedHalf {
  return half.flow !== undefined;
}

/** A relayed circuit between a hop stream (initiator) and a stop stream (target). */
export class Circuit {
  /** Bytes relayed initiator to target. */
  get bytesSrcToDst(): number {
    return this.#up.bytes;
  }
  /** Bytes relayed target to initiator. */
  get bytesDstToSrc(): number {
    return this.#down.bytes;
  }
  /** Bytes of each direction already flushed to metrics (owned by the caller). */
  flushedSrcToDst = 0;
  flushedDstToSrc = 0;
  /** Source peer key, for releasing its circuit slot. */
  readonly sourceKey: string;
  /** When relaying started, on the clock's monotonic reading (ms). */
  readonly startedAt: number;
  /** Initiator and target, for listings (absent in unit tests). */
  readonly peers?: { readonly source: PeerId; readonly target: PeerId };

  readonly #up: Half;
  readonly #down: Half;
  readonly #limit: CircuitLimit;
  readonly #onEnd: CircuitEndHandler;
  #reason: CircuitEndReason | undefined;
  #endedBy: CircuitEndedBy | undefined;
  readonly #clock: Clock;
  #timer: TimerId | undefined;
  #ended = false;

  /**
   * Starts relaying at once.
   *
   * @param init The two streams, the limit, the slot key, the end handler and the flows.
   */
  constructor(init: CircuitInit) {
    const { src, dst, limit, flows } = init;
    this.peers = init.peers;
    this.#up = new Half({ from: src, to: dst, peer: "initiator", flow: flows?.up });
    this.#down = new Half({ from: dst, to: src, peer: "target", flow: flows?.down });
    this.#limit = limit;
    this.sourceKey = init.sourceKey;
    this.#onEnd = init.onEnd;
    this.#clock = init.clock ?? SYSTEM_CLOCK;
    this.startedAt = this.#clock.monotonicMs();
    if (limit.durationMs > 0) {
      this.#timer = this.#clock.setTimeout(() => this.#cut("duration_limit"), limit.durationMs);
    }
    this.#wire(this.#up);
    this.#wire(this.#down);
  }

  /** Why the circuit ended or is ending, if it is. */
  get reason(): CircuitEndReason | undefined {
    return this.#reason;
  }

  /** Who ended the circuit or is ending it, if anyone has. */
  get endedBy(): CircuitEndedBy | undefined {
    return this.#endedBy;
  }

  /** Resets both streams (relay shutting down). */
  stop(): void {
    this.#reason ??= "stopped";
    this.#endedBy ??= "relay";
    const error = new CircuitCutError("relay stopped");
    this.#up.from.abort(error);
    this.#down.from.abort(error);
  }

  /**
   * Wires one direction: each message is relayed (`#relay`), a drained destination resumes
   * the source, the source's end half-closes the destination, and its close (or reset) ends
   * the circuit.
   */
  #wire(half: Half): void {
    const { from, to } = half;
    if (from.maxReadBufferLength < CIRCUIT_READ_BUFFER_BYTES) {
      from.maxReadBufferLength = CIRCUIT_READ_BUFFER_BYTES;
    }
    from.addEventListener("message", (evt: StreamMessageEvent) => this.#relay(half, evt.data));
    to.addEventListener("drain", () => {
      if (from.readStatus === "paused" && !half.shaping) this.#resume(half);
    });
    // 'end' (not 'remoteCloseWrite') comes once the sender closed AND every byte it sent
    // has been dispatched: bytes held back by backpressure or shaping go out first.
    from.addEventListener("end", () => this.#sourceEnded(half));
    from.addEventListener("close", (evt: StreamCloseEvent) => this.#sourceClosed(half, evt));
    this.#catchUp(half);
  }

  /** One message from the source: cut exactly at the data limit, then forwarded or shaped. */
  #relay(half: Half, message: Uint8Array | Uint8ArrayList): void {
    // After a cut, whatever still arrives is dropped.
    if (this.#reason !== undefined) return;
    const dataLimit = this.#limit.dataBytes;
    let data = message;
    let length = data.byteLength;
    if (dataLimit > 0 && half.bytes + length > dataLimit) {
      // Relay exactly up to the advertised limit; the rest is dropped with the cut.
      length = dataLimit - half.bytes;
      data = slice(data, 0, length);
    }
    const relaying = isShaped(half)
      ? this.#forwardShaped(half, data, length)
      : this.#forward(half, data, length);
    if (relaying && dataLimit > 0 && half.bytes >= dataLimit) this.#cut("data_limit");
  }

  /** The source closed its writing side: half-close the destination. */
  #sourceEnded(half: Half): void {
    const { from, to } = half;
    // A reset also ends the readable side; the 'close' handler resets the other side then.
    if (this.#reason !== undefined || from.status === "reset" || from.status === "aborted") {
      return;
    }
    this.#endedBy ??= half.peer;
    if (!this.#flush(half)) return;
    to.close().catch(() => this.#reset());
  }

  /** The source stream closed; closed with an error (a reset), it resets the destination. */
  #sourceClosed(half: Half, evt: StreamCloseEvent): void {
    half.closed = true;
    if (evt.error !== undefined && !this.#ended) {
      this.#endedBy ??= half.peer;
      this.#reason ??= "reset";
      half.to.abort(evt.error);
    }
    this.#maybeEnd();
  }

  /**
   * Events that fired during the handshake are not replayed: catch up on them. The
   * microtask runs after the buffered bytes are dispatched to the message listener.
   */
  #catchUp(half: Half): void {
    const { from, to } = half;
    if (from.status !== "open" && from.status !== "closing") {
      queueMicrotask(() => {
        half.closed = true;
        this.#endedBy ??= half.peer;
        to.abort(new CircuitCutError("peer stream ended during setup"));
        this.#reason ??= "reset";
        this.#maybeEnd();
      });
    } else if (from.readableEnded) {
      queueMicrotask(() => {
        this.#endedBy ??= half.peer;
        if (!this.#flush(half)) return;
        to.close().catch(() => this.#reset());
      });
    }
  }

  /**
   * Queues a chunk to be sent on with the others of the same task. One socket read hands the
   * muxer several frames at once (a rust-libp2p peer sends 16 KiB frames, a go-libp2p peer a
   * 29-byte tail after each 64 KiB), each dispatched as its own message in the same task; sent
   * one by one they would each cost a yamux frame, a Noise message (a cipher) and a `writev`.
   * Batched, they go out as one `send`, which yamux cuts into full frames (`#flush`).
   *
   * @returns Always true (a failed send resets the circuit in `#flush`).
   */
  #forward(half: Half, data: Uint8Array | Uint8ArrayList, length: number): boolean {
    half.bytes += length;
    // A destination that cannot take more (its peer closed its read side) drops the bytes.
    if (length === 0 || half.to.writeStatus !== "writable") return true;
    if (length >= BATCH_CHUNK_MAX_BYTES) {
      // A full frame's worth goes on as it is: joined with others it would straddle frames.
      return this.#flush(half) && this.#send(half, data);
    }
    if (half.batch === undefined) {
      half.batch = data;
      queueMicrotask(() => this.#flush(half));
    } else if (half.batchIsOurs) {
      (half.batch as Uint8ArrayList).append(data);
    } else {
      half.batch = new Uint8ArrayList(half.batch, data);
      half.batchIsOurs = true;
    }
    return true;
  }

  /**
   * Sends a half's batch with one `send`, pausing the source while the destination is full.
   *
   * @returns False when the circuit was reset instead.
   */
  #flush(half: Half): boolean {
    const batch = half.batch;
    if (batch === undefined) return true;
    half.batch = undefined;
    half.batchIsOurs = false;
    return this.#send(half, batch);
  }

  /**
   * Sends with one `send`, pausing the source while the destination is full.
   *
   * @returns False when the circuit was reset instead.
   */
  #send(half: Half, data: Uint8Array | Uint8ArrayList): boolean {
    const { from, to } = half;
    if (to.writeStatus !== "writable") return true;
    try {
      if (!to.send(data) && from.readStatus === "readable") from.pause();
    } catch {
      this.#destinationGone(half);
      return false;
    }
    return true;
  }

  /**
   * Sends a chunk on as the bandwidth flow grants it, in pieces of at most one quantum. The
   * flow is asked before each piece moves, so nothing goes out on credit; what it does not
   * grant yet is put back in front of the stream's read buffer, and reading pauses until
   * the flow can grant again (or, under backpressure, until the destination drains). A
   * paused stream hands over everything its muxer window let in as one message: this
   * paces all of it.
   *
   * @returns False when the circuit was reset instead.
   */
  #forwardShaped(half: ShapedHalf, data: Uint8Array | Uint8ArrayList, length: number): boolean {
    const { from, to, flow } = half;
    if (length === 0 || to.writeStatus !== "writable") {
      half.bytes += length;
      return true;
    }
    const nowMs = this.#clock.nowMs();
    let offset = 0;
    let full = false;
    while (offset < length && !full) {
      const granted = flow.take(nowMs, Math.min(length - offset, SHAPING_QUANTUM_BYTES));
      if (granted === 0) break;
      const end = offset + granted;
      const piece = offset === 0 && end === length ? data : slice(data, offset, end);
      half.bytes += granted;
      offset = end;
      try {
        full = !to.send(piece);
      } catch {
        this.#destinationGone(half);
        return false;
      }
    }
    if (from.readStatus === "readable" && (full || offset < length)) from.pause();
    if (offset === length) return true;
    try {
      from.unshift(slice(data, offset, length));
    } catch {
      // The readable end is closing under us: the rest cannot be relayed in order.
      this.#reset();
      return false;
    }
    // Under backpressure 'drain' resumes reading; otherwise the shaper's timer does.
    if (!full && !half.shaping) {
      half.shaping = true;
      half.shapingTimer = this.#clock.setTimeout(() => {
        half.shaping = false;
        if (half.from.readStatus === "paused" && !half.to.writableNeedsDrain) this.#resume(half);
      }, flow.retryAfterMs);
    }
    return true;
  }

  /** The destination's stream is gone under a send: its peer ended the circuit. */
  #destinationGone(half: Half): void {
    this.#endedBy ??= half.peer === "initiator" ? "target" : "initiator";
    this.#reset();
  }

  /** A limit was hit: close both ends cleanly, reset them if they linger. */
  #cut(reason: CircuitEndReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    this.#endedBy ??= "relay";
    this.#clock.clearTimeout(this.#timer);
    for (const half of [this.#up, this.#down]) {
      // What came before the limit goes out before the close.
      this.#flush(half);
      // Data left behind a paused read is dropped by the message listener.
      if (half.from.readStatus === "paused") this.#resume(half);
      half.to.close().catch(() => this.#reset());
    }
    this.#timer = this.#clock.setTimeout(() => this.#reset(), CIRCUIT_CLOSE_GRACE_MS);
  }

  /**
   * Resumes reading a half. Resuming sends a window update, which throws when the peer's
   * connection closed while the half was paused (a shaping timer or a drain can fire after
   * that): the circuit is reset instead of the error escaping a timer and ending the process.
   */
  #resume(half: Half): void {
    try {
      half.from.resume();
    } catch {
      this.#reset();
    }
  }

  #reset(): void {
    this.#reason ??= "reset";
    this.#endedBy ??= "relay";
    const error = new CircuitCutError(`circuit ${this.#reason}`);
    this.#up.from.abort(error);
    this.#down.from.abort(error);
  }

  #maybeEnd(): void {
    if (this.#ended || !this.#up.closed || !this.#down.closed) return;
    this.#ended = true;
    this.#clock.clearTimeout(this.#timer);
    this.#clock.clearTimeout(this.#up.shapingTimer);
    this.#clock.clearTimeout(this.#down.shapingTimer);
    this.#up.flow?.close();
    this.#down.flow?.close();
    this.#onEnd(this, this.#reason ?? "closed", this.#endedBy ?? "relay");
  }
}

/** Circuit slots: a total and a per-source-peer count. Limits of 0 mean unlimited. */
export class CircuitSlots {
  readonly #maxTotal: number;
  readonly #maxPerPeer: number;
  readonly #perPeer = new Map<string, number>();
  #total = 0;

  /**
   * @param maxTotal Most circuits at once.
   * @param maxPerPeer Most circuits one source peer may have at once.
   */
  constructor(maxTotal: number, maxPerPeer: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerPeer = maxPerPeer;
  }

  /** Slots in use. */
  get size(): number {
    return this.#total;
  }

  /**
   * Takes a slot for `key`.
   *
   * @param key Source peer key.
   * @param maxPerPeer This peer's limit (0 = unlimited); the configured one by default.
   * @returns `"OK"`, or the refusal reason.
   */
  acquire(
    key: string,
    maxPerPeer = this.#maxPerPeer,
  ): "OK" | "circuit_limit" | "peer_circuit_limit" {
    if (this.#maxTotal > 0 && this.#total >= this.#maxTotal) return "circuit_limit";
    const n = this.#perPeer.get(key) ?? 0;
    if (maxPerPeer > 0 && n >= maxPerPeer) return "peer_circuit_limit";
    this.#perPeer.set(key, n + 1);
    this.#total++;
    return "OK";
  }

  /**
   * Returns a slot taken by {@linkcode CircuitSlots.acquire}.
   *
   * @param key Source peer key.
   */
  release(key: string): void {
    const n = (this.#perPeer.get(key) ?? 0) - 1;
    if (n < 0) return;
    if (n === 0) this.#perPeer.delete(key);
    else this.#perPeer.set(key, n);
    this.#total--;
  }
}
