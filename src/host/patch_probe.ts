/**
 * The workarounds that act on each connection's objects (Noise decryption, yamux frames, lean
 * emitters), tried at start on one connection made in memory, so that one that does not apply
 * to the libp2p in use is said at start, not at the first client's connection.
 *
 * The connection is @libp2p/utils' in-memory pair, secured with the host's own Noise factory
 * (a handshake between two throwaway keys) and multiplexed with its own yamux factory; one
 * stream is opened, then everything is aborted. The probe checks what it finds, not what the
 * factories say: each object lean, the secured stream's `decrypt` replaced, the stream's frames
 * capped, its window updates sent at half the window. `coalesce_writes.ts` needs a TCP socket
 * and is checked on the first TCP connection.
 *
 * @module
 */

import type { ConnectionEncrypter, StreamMuxerFactory } from "@libp2p/interface";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddrConnectionPair } from "@libp2p/utils";
import { isLean } from "./lean_events.ts";
import { isDecryptUnjoined } from "./noise_crypto.ts";
import type { PatchWarnings } from "./patch_warnings.ts";
import { isWindowUpdateThresholded } from "./yamux_window_updates.ts";
import { libp2pLogger } from "./quiet_logger.ts";

/** The host's connection factories, as given to `createLibp2p`. */
export interface ProbedFactories {
  // deno-lint-ignore no-explicit-any
  readonly encrypter: (components: any) => ConnectionEncrypter;
  readonly muxer: () => StreamMuxerFactory;
  /** The largest yamux frame payload the muxer is meant to send. */
  readonly maxFrameBytes: number;
}

/**
 * Makes one in-memory connection with `factories` and tells `warnings` which of the
 * per-connection workarounds did not apply to it.
 *
 * @param factories The host's Noise and yamux factories.
 * @param warnings The host's warnings.
 * @returns When the probe connection is closed again.
 */
export async function probeConnectionPatches(
  factories: ProbedFactories,
  warnings: PatchWarnings,
): Promise<void> {
  const logger = libp2pLogger({}) ?? { forComponent: () => undefined };
  const components = await Promise.all([0, 1].map(async () => {
    const privateKey = await generateKeyPair("Ed25519");
    const peerId = peerIdFromPrivateKey(privateKey);
    return { privateKey, peerId, logger, upgrader: { getStreamMuxers: () => new Map() } };
  }));
  const [inbound, outbound] = components.map((c) => factories.encrypter(c));
  const [server, client] = multiaddrConnectionPair();
  const done = new Error("patch probe done");
  try {
    const [secured, dialed] = await Promise.all([
      inbound!.secureInbound(server),
      outbound!.secureOutbound(client, { remotePeer: components[0]!.peerId }),
    ]);
    if (!isLean(server) || !isLean(secured.connection)) warnings.notApplied("lean_events");
    if (!isDecryptUnjoined(secured.connection)) warnings.notApplied("noise_decrypt");
    const muxers = factories.muxer();
    const muxer = muxers.createStreamMuxer(dialed.connection);
    muxers.createStreamMuxer(secured.connection);
    const stream = await muxer.createStream();
    if (!isLean(muxer) || !isLean(stream)) warnings.notApplied("lean_events");
    const frameBytes = (stream as unknown as { maxMessageSize?: unknown }).maxMessageSize;
    if (typeof frameBytes !== "number" || frameBytes > factories.maxFrameBytes) {
      warnings.notApplied("yamux_frames");
    }
    if (!isWindowUpdateThresholded(stream)) warnings.notApplied("yamux_window_updates");
  } finally {
    server.abort(done);
    client.abort(done);
  }
}
