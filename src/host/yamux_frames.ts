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
 * each stream's `maxMessageSize` field keeps the value yamux sets it to, capped. Upstream fix:
 * honour `maxMessageSize` in YamuxStream (constructor and handleWindowUpdate).
 *
 * @module
 */

import type { StreamMuxerFactory } from "@libp2p/interface";
import { yamux, type YamuxMuxerInit } from "@libp2p/yamux";

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

/**
 * Makes every stream `muxer` creates, inbound and outbound, send frames of at most
 * `maxBytes` of payload.
 *
 * @param onMisshapen Called once per stream that is not shaped as expected (left as it is).
 * @returns False when the muxer is not shaped as @libp2p/yamux 8's (nothing is changed).
 */
export function capMuxerFrames(
  muxer: unknown,
  maxBytes: number,
  onMisshapen: () => void = () => {},
): boolean {
  const target = muxer as YamuxMuxerLike;
  const newStream = target._newStream;
  if (typeof newStream !== "function") return false;
  target._newStream = function (this: unknown, ...args: unknown[]) {
    const stream = newStream.apply(this, args);
    if (!capStreamFrames(stream, maxBytes)) onMisshapen();
    return stream;
  };
  return true;
}

/**
 * `yamux(init)` whose streams send frames of at most `init.maxMessageSize` bytes of payload.
 *
 * @param init yamux options; `maxMessageSize` is the cap.
 * @param onMisshapen Called when a muxer or stream is not shaped as @libp2p/yamux 8's, which
 *   is then left as it is (frames as large as the send window).
 * @returns A stream muxer factory for libp2p.
 */
export function cappedYamux(
  init: YamuxMuxerInit & { maxMessageSize: number },
  onMisshapen: () => void = () => {},
): () => StreamMuxerFactory {
  const factory = yamux(init);
  return () => {
    const muxers = factory();
    const create = muxers.createStreamMuxer.bind(muxers);
    muxers.createStreamMuxer = (maConn) => {
      const muxer = create(maConn);
      if (!capMuxerFrames(muxer, init.maxMessageSize, onMisshapen)) onMisshapen();
      return muxer;
    };
    return muxers;
  };
}
