/**
 * A stream opened on a connection's muxer without libp2p's protocol negotiation, for a caller
 * that pipelines multistream-select with its first message (the relay's STOP, one round trip
 * less per circuit setup: src/relay/stop_client.ts).
 *
 * js-libp2p 3.3.11's public `connection.newStream()` negotiates before it returns: it writes
 * the multistream-select header and the protocol and waits for the target to confirm both,
 * so the caller's first message goes out one round trip later. It has no lazy mode. Here the
 * stream comes straight from the connection's private `muxer.createStream()`, with the checks
 * `newStream` makes first (connection and muxer open, no limits) and its outbound stream limit.
 * What `newStream` does afterwards and this skips: the protocol's middleware (hopd registers
 * none), libp2p's protocol stream metrics (hopd configures no libp2p metrics) and the peer
 * store merge of the protocol into the target's record (hopd never reads it).
 *
 * Measured both ways with `deno run -A bench/circuit_setup.ts --stop-open-both --rates 100`
 * (bench/RESULTS.md, "STOP open: pipelined or libp2p's newStream"): the public path costs
 * more than 5% of the relay-side setup, so this stays.
 *
 * Version guard: applied on js-libp2p 3.3.11 only (versions.ts) (the version whose `newStream` this mirrors);
 * on any other, `unnegotiatedStreamsSupported()` is false, `createHost` warns at start and
 * callers negotiate with `newStream`. Upstream fix: a `newStream` option to pipeline the
 * negotiation with the first write (multistream-select allows it for one protocol; go-libp2p's
 * `NewStream` is lazy by default), as js-libp2p 2's `negotiateFully: false` did.
 *
 * @module
 */

import type { Connection, Stream } from "@libp2p/interface";
import { libp2pChecked } from "./versions.ts";

/** The part of js-libp2p 3's connection muxer this uses. */
interface MuxerLike {
  readonly status: string;
  createStream(options?: { signal?: AbortSignal }): Promise<Stream>;
}

/** What {@linkcode openUnnegotiatedStream} needs. */
export interface UnnegotiatedStreamOptions {
  readonly signal: AbortSignal;
  /** `newStream`'s `maxOutboundStreams`: outbound streams of the protocol open at once. */
  readonly maxOutboundStreams: number;
}

/**
 * Whether {@linkcode openUnnegotiatedStream} can act at all in this process: the running
 * js-libp2p is the version it was checked against (versions.ts).
 *
 * @param version js-libp2p's version (the running one by default).
 * @returns False when another js-libp2p runs (every stream is then negotiated first).
 */
export function unnegotiatedStreamsSupported(version?: string): boolean {
  return libp2pChecked(version);
}

/**
 * Opens a stream for `protocol` on `connection`'s muxer, with no negotiation: the caller sends
 * the multistream-select header and protocol itself, with its first message, and reads the
 * answers. The stream's `protocol` is set, so libp2p counts it against `protocol`'s limits.
 *
 * @param connection An open, unlimited connection.
 * @param protocol The protocol the caller is about to select.
 * @param options Abort signal and outbound stream limit.
 * @returns The stream, or undefined when the connection is not shaped as js-libp2p 3.3.11's
 *   (or another js-libp2p runs): the caller then uses `connection.newStream()`.
 * @throws {RangeError} When `protocol` already has `maxOutboundStreams` outbound streams.
 * @throws What the muxer's `createStream` throws (a closed connection, an abort).
 */
export function openUnnegotiatedStream(
  connection: Connection,
  protocol: string,
  options: UnnegotiatedStreamOptions,
): Promise<Stream> | undefined {
  const muxer = unnegotiatedMuxer(connection);
  if (muxer === undefined) return undefined;
  const open =
    connection.streams.filter((s) => s.direction === "outbound" && s.protocol === protocol).length;
  if (open >= options.maxOutboundStreams) {
    return Promise.reject(
      new RangeError(
        `Cannot open a '${protocol}' stream as ${open} outbound ones are open: the limit is ` +
          `${options.maxOutboundStreams}`,
      ),
    );
  }
  return muxer.createStream({ signal: options.signal }).then((stream) => {
    stream.protocol = protocol;
    return stream;
  });
}

/**
 * The connection's muxer when a stream can be opened on it directly: js-libp2p 3.3.11, and an
 * open, unlimited connection whose muxer is open (the checks `newStream` makes first).
 */
function unnegotiatedMuxer(connection: Connection): MuxerLike | undefined {
  if (!unnegotiatedStreamsSupported()) return undefined;
  const muxer = (connection as unknown as { muxer?: Partial<MuxerLike> | null }).muxer;
  if (
    muxer == null || typeof muxer.createStream !== "function" || muxer.status !== "open" ||
    connection.status !== "open" || connection.limits != null ||
    !Array.isArray(connection.streams)
  ) {
    return undefined;
  }
  return muxer as MuxerLike;
}
