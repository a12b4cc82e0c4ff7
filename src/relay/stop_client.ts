/**
 * The relay's side of the stop protocol: open `/libp2p/circuit/relay/0.2.0/stop` on the
 * target's connection, send `StopMessage { CONNECT, peer: initiator, limit }` and wait for
 * `STATUS OK`. The outcome is a value; a failure names a reason for the metrics, and the
 * stop stream is always reset on failure so nothing lingers.
 *
 * @module
 */

import type { Connection, Stream } from "@libp2p/interface";
import { encodeFrame, FrameReader, FrameTooLargeError, StreamEndedError } from "./_framing.ts";
import { STOP_MAX_OUTBOUND_STREAMS, STOP_PROTOCOL } from "./constants.ts";
import { decodeStopMessage, encodeStopMessage, MalformedMessageError } from "./pb/circuit.ts";
import type { Limit } from "./pb/circuit.ts";

/** The outcome of {@linkcode openStopStream}. */
export type StopResult =
  | { readonly status: "OK"; readonly stream: Stream }
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
  /** Aborted when the circuit setup times out or the relay stops. */
  readonly signal: AbortSignal;
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
  let stream: Stream;
  try {
    stream = await connection.newStream(STOP_PROTOCOL, {
      signal: request.signal,
      maxOutboundStreams: STOP_MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: false,
    });
  } catch {
    return failed(request.signal.aborted ? "timeout" : "open_failed");
  }
  const onAbort = (): void => stream.abort(new StopAbandonedError("stop setup abandoned"));
  request.signal.addEventListener("abort", onAbort, { once: true });
  const reader = new FrameReader(stream, request.maxMessageBytes);
  try {
    const message = encodeStopMessage({
      type: "CONNECT",
      peer: { id: request.source, addrs: [] },
      limit: request.limit,
    });
    stream.send(encodeFrame(message));
    const response = decodeStopMessage(await reader.read());
    if (response.type !== "STATUS") return abandon(stream, "unexpected");
    if (response.status !== "OK") return abandon(stream, "refused");
    reader.unwrap();
    return { status: "OK", stream };
  } catch (error) {
    if (request.signal.aborted) return abandon(stream, "timeout");
    return abandon(stream, classify(error));
  } finally {
    request.signal.removeEventListener("abort", onAbort);
  }
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
