/**
 * The relay's side of the stop protocol: open `/libp2p/circuit/relay/0.2.0/stop` on the
 * target's connection, send `StopMessage { CONNECT, peer: initiator, limit }` and wait for
 * `STATUS OK`. The outcome is a value; a failure names a reason for the metrics, and the
 * stop stream is always reset on failure so nothing lingers.
 *
 * The stream is opened with its protocol negotiation pipelined: the multistream-select
 * header, the stop protocol and the CONNECT go out together, and the target's three answers
 * are read in order. Multistream-select allows the dialer to pipeline a single protocol; go-,
 * rust- and js-libp2p responders read exactly their frames and leave the rest for the handler.
 * js-libp2p's public `newStream` cannot (it waits for the target to confirm the protocol, one
 * round trip more), so the stream comes from src/host/pipelined_stream.ts, which reaches into
 * the connection's muxer (the figures that keep it are there and in bench/RESULTS.md). When
 * that does not apply (another js-libp2p, a connection of another shape) or
 * `relay.stop_pipelining` is off, `newStream` negotiates first. The outcome names the way
 * taken (`mode`), which hopd counts in `hopd_circuit_stop_streams_total{mode}`.
 *
 * @module
 */

import type { Connection, Stream } from "@libp2p/interface";
import { openUnnegotiatedStream } from "../host/pipelined_stream.ts";
import { encodeFrame, FrameReader, FrameTooLargeError, StreamEndedError } from "./_framing.ts";
import { STOP_MAX_OUTBOUND_STREAMS, STOP_PROTOCOL } from "./constants.ts";
import { decodeStopMessage, encodeStopMessage, MalformedMessageError } from "./pb/circuit.ts";
import type { Limit } from "./pb/circuit.ts";
import { Uint8ArrayList } from "uint8arraylist";

/** How a stop stream was opened: negotiation pipelined with CONNECT, or negotiated first. */
export type StopOpenMode = "pipelined" | "negotiated";

/** The outcome of {@linkcode openStopStream}. */
export type StopResult =
  | { readonly status: "OK"; readonly stream: Stream; readonly mode: StopOpenMode }
  | { readonly status: "CONNECTION_FAILED"; readonly reason: StopFailure };

/**
 * Why a stop exchange failed: the target refused (`refused`), never answered (`timeout`),
 * sent bad bytes (`malformed`, `oversized`, `unexpected`), reset or closed the stream
 * (`reset`), or no stream could be opened (`open_failed`).
 */
export type StopFailure =
  | "refused"
  | "timeout"
  | "malformed"
  | "oversized"
  | "unexpected"
  | "reset"
  | "open_failed";

/** What {@linkcode openStopStream} needs. */
export interface StopRequest {
  /** Multihash bytes of the initiator. */
  readonly source: Uint8Array;
  /** Limit to advertise, or undefined for none. */
  readonly limit: Limit | undefined;
  readonly maxMessageBytes: number;
  /** Pipeline the negotiation with CONNECT when the connection allows (relay.stop_pipelining). */
  readonly pipeline: boolean;
  /** Aborted when the circuit setup times out or the relay stops. */
  readonly signal: AbortSignal;
  /**
   * Called when `pipeline` is on but the connection cannot take it (another js-libp2p, or a
   * connection of another shape), before the stream is negotiated first instead.
   */
  readonly onNotPipelined?: () => void;
}

/** Error a stop stream is reset with when its setup is abandoned. */
export class StopAbandonedError extends Error {
  override name = "StopAbandonedError";
}

/**
 * Opens a stop stream to the target and waits for its STATUS.
 *
 * @param connection A direct (unlimited) connection to the target.
 * @param request The initiator, the limit and the abort signal.
 * @returns The stop stream, ready to relay, or `CONNECTION_FAILED` with the reason.
 */
export async function openStopStream(
  connection: Connection,
  request: StopRequest,
): Promise<StopResult> {
  const message = encodeFrame(encodeStopMessage({
    type: "CONNECT",
    peer: { id: request.source, addrs: [] },
    limit: request.limit,
  }));
  let stream: Stream;
  let pipelined = false;
  try {
    const unnegotiated = request.pipeline
      ? openUnnegotiatedStream(connection, STOP_PROTOCOL, {
        signal: request.signal,
        maxOutboundStreams: STOP_MAX_OUTBOUND_STREAMS,
      })
      : undefined;
    if (unnegotiated !== undefined) {
      stream = await unnegotiated;
      pipelined = true;
    } else {
      if (request.pipeline) request.onNotPipelined?.();
      stream = await connection.newStream(STOP_PROTOCOL, {
        signal: request.signal,
        maxOutboundStreams: STOP_MAX_OUTBOUND_STREAMS,
        runOnLimitedConnection: false,
      });
    }
  } catch {
    return failed(request.signal.aborted ? "timeout" : "open_failed");
  }
  const onAbort = (): void => stream.abort(new StopAbandonedError("stop setup abandoned"));
  request.signal.addEventListener("abort", onAbort, { once: true });
  const reader = new FrameReader(stream, request.maxMessageBytes);
  try {
    if (pipelined) {
      stream.send(new Uint8ArrayList(MSS_HEADER_FRAME, MSS_STOP_FRAME, message));
      // The target answers the header, then the protocol ("na" when it does not speak it).
      if (!sameBytes(await reader.read(), MSS_HEADER)) return abandon(stream, "unexpected");
      if (!sameBytes(await reader.read(), MSS_STOP)) return abandon(stream, "open_failed");
    } else {
      stream.send(message);
    }
    const response = decodeStopMessage(await reader.read());
    if (response.type !== "STATUS") return abandon(stream, "unexpected");
    if (response.status !== "OK") return abandon(stream, "refused");
    reader.unwrap();
    return { status: "OK", stream, mode: pipelined ? "pipelined" : "negotiated" };
  } catch (error) {
    if (request.signal.aborted) return abandon(stream, "timeout");
    return abandon(stream, classify(error));
  } finally {
    request.signal.removeEventListener("abort", onAbort);
  }
}

const encoder = new TextEncoder();
const MSS_HEADER = encoder.encode("/multistream/1.0.0\n");
const MSS_STOP = encoder.encode(`${STOP_PROTOCOL}\n`);
const MSS_HEADER_FRAME = encodeFrame(MSS_HEADER);
const MSS_STOP_FRAME = encodeFrame(MSS_STOP);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}

function classify(error: unknown): StopFailure {
  if (error instanceof FrameTooLargeError) return "oversized";
  if (error instanceof MalformedMessageError) return "malformed";
  if (error instanceof StreamEndedError) return "reset";
  return "reset";
}

function failed(reason: StopFailure): StopResult {
  return { status: "CONNECTION_FAILED", reason };
}

function abandon(stream: Stream, reason: StopFailure): StopResult {
  stream.abort(new StopAbandonedError(`stop ${reason}`));
  return failed(reason);
}
