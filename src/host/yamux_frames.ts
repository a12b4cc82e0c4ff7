/**
 * yamux data frames that fit one Noise message, and that rust-libp2p accepts.
 *
 * @libp2p/yamux 8.0.3 ignores its `maxMessageSize` option. Each stream starts with its
 * largest frame at the initial window less the 12-byte header (262,132 bytes), and every
 * window update from the peer resets it to the whole send window less 12. A receiver that
 * grows its window (rust-libp2p's yamux auto-tunes it up to 16 MiB, js-libp2p doubles it up
 * to 16 MiB) therefore gets frames of several MiB from a relay with bytes queued for it, and
 * rust-libp2p's yamux 0.14 refuses any frame body above 1 MiB by closing the whole
 * connection (`FrameTooLarge`): a rust target's circuit through hopd died after 75–110 MB of
 * a bulk transfer (bench/relay_vs_peers.ts). A frame that size also spans several Noise
 * messages, the last one partly filled.
 *
 * `cappedYamux()` is `yamux()` whose streams never send a frame larger than `maxMessageSize`:
 * each stream's `maxMessageSize` field keeps the value yamux sets it to, capped. It also marks
 * each muxer and stream lean (lean_events.ts), has each new outbound stream send its SYN
 * with its first frame (yamux_syn.ts) and makes each stream send a window update once half its
 * receive window is used, not per frame (yamux_window_updates.ts). A muxer or stream of
 * another shape is left as it is and the host warns once (patch_warnings.ts). Version guard:
 * @libp2p/yamux 8.0.3
 * (versions.ts). Upstream fix: honour `maxMessageSize` in YamuxStream (constructor and
 * handleWindowUpdate).
 *
 * @module
 */

import type { StreamMuxerFactory } from "@libp2p/interface";
import { yamux, type YamuxMuxerInit } from "@libp2p/yamux";
import { leanEvents } from "./lean_events.ts";
import { synWithFirstFrame } from "./yamux_syn.ts";
import type { PatchWarnings } from "./patch_warnings.ts";
import { thresholdWindowUpdates } from "./yamux_window_updates.ts";

/** The part of @libp2p/yamux's muxer this touches. */
interface YamuxMuxerLike {
  _newStream(...args: unknown[]): unknown;
}

/** The part of @libp2p/yamux's stream this touches. */
interface YamuxStreamLike {
  maxMessageSize: number;
}

/**
 * Caps `stream`'s frames at `maxBytes` of payload, now and after every window update.
 *
 * @returns False when the stream is not shaped as @libp2p/yamux 8's (nothing is changed).
 */
export function capStreamFrames(stream: unknown, maxBytes: number): boolean {
  const target = stream as YamuxStreamLike;
  const own = Object.getOwnPropertyDescriptor(target, "maxMessageSize");
  if (own === undefined || !own.writable || typeof own.value !== "number") return false;
  let current = Math.min(own.value, maxBytes);
  Object.defineProperty(target, "maxMessageSize", {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (value: number) => {
      current = Math.min(value, maxBytes);
    },
  });
  return true;
}

/** What {@linkcode capMuxerFrames} does beside the cap. */
export interface CapMuxerFramesOptions {
  /** Called once per stream that is not shaped as expected (left as it is). */
  readonly onMisshapen?: () => void;
  /** Called with every stream the muxer creates. */
  readonly onStream?: (stream: unknown) => void;
}

/**
 * Makes every stream `muxer` creates, inbound and outbound, send frames of at most
 * `maxBytes` of payload.
 *
 * @returns False when the muxer is not shaped as @libp2p/yamux 8's (nothing is changed).
 */
export function capMuxerFrames(
  muxer: unknown,
  maxBytes: number,
  options: CapMuxerFramesOptions = {},
): boolean {
  const { onMisshapen = () => {}, onStream = () => {} } = options;
  const target = muxer as YamuxMuxerLike;
  const newStream = target._newStream;
  if (typeof newStream !== "function") return false;
  target._newStream = function (this: unknown, ...args: unknown[]) {
    const stream = newStream.apply(this, args);
    if (!capStreamFrames(stream, maxBytes)) onMisshapen();
    onStream(stream);
    return stream;
  };
  return true;
}

/**
 * `yamux(init)` whose streams send frames of at most `init.maxMessageSize` bytes of payload
 * and window updates once half the receive window is used, and whose muxers and streams are lean.
 *
 * @param init yamux options; `maxMessageSize` is the cap.
 * @param warnings Told when a muxer or stream is not shaped as @libp2p/yamux 8's, which is
 *   then left as it is (frames as large as the send window), or cannot be made lean.
 * @returns A stream muxer factory for libp2p.
 */
export function cappedYamux(
  init: YamuxMuxerInit & { maxMessageSize: number },
  warnings?: PatchWarnings,
): () => StreamMuxerFactory {
  const factory = yamux(init);
  const misshapen = () => warnings?.notApplied("yamux_frames");
  return () => {
    const muxers = factory();
    const create = muxers.createStreamMuxer.bind(muxers);
    muxers.createStreamMuxer = (maConn) => {
      const muxer = create(maConn);
      if (!leanEvents(muxer)) warnings?.notApplied("lean_events");
      const capped = capMuxerFrames(muxer, init.maxMessageSize, {
        onMisshapen: misshapen,
        onStream: (stream) => {
          if (!leanEvents(stream)) warnings?.notApplied("lean_events");
          if (!synWithFirstFrame(stream)) misshapen();
          if (!thresholdWindowUpdates(stream)) warnings?.notApplied("yamux_window_updates");
        },
      });
      if (!capped) misshapen();
      return muxer;
    };
    return muxers;
  };
}
