/**
 * Noise for a relay's data path: the default @libp2p/noise with two copies taken out.
 *
 * Encryption: noise's ChaCha20-Poly1305. @libp2p/noise's default encrypts
 * payloads of 1200 bytes or more with `node:crypto` and joins the ciphertext and the tag with
 * `Buffer.concat`; under Deno that copy (into a zero-filled buffer) costs more than the
 * cipher itself. Here the two parts go out as one `Uint8ArrayList`, with no copy: measured
 * 665 → 1352 MiB/s at 64 KiB and 274 → 982 MiB/s at 16 KiB.
 *
 * Decryption: a Noise message (up to 65,535 bytes) usually spans two socket reads (64 KiB
 * each), so it reaches noise's `decrypt` as a list of two buffers. noise 17.0.3 then joins
 * them into a new buffer (`chunk.subarray()`) to offer the cipher a destination to decrypt
 * in place, which the `node:crypto` cipher it uses for messages of 1,200 bytes or more never
 * reads: a 64 KiB allocation and copy per message for nothing (13% of hopd's JavaScript time
 * while relaying, in a CPU profile). `relayNoise()` hands such messages to the cipher as the
 * list. Everything else is the default.
 *
 * Reading: noise's length-prefixed decoder asks its length reader for the next message's
 * 2-byte length until the buffer runs out, and the reader says "not enough bytes" by throwing
 * a `RangeError` that the decoder catches: every socket read ends in an error object with its
 * stack trace (3 µs each in a micro-benchmark at the depth of a socket read; 11% of hopd's
 * JavaScript time in a CPU profile at 100 circuits/s, where reads are small and many).
 * {@linkcode readLengthsWithoutThrowing} gives the decoder a reader that answers 0 instead:
 * a 0-byte message needs 2 bytes, so the decoder waits for more exactly as it did.
 *
 * It also marks each connection's socket wrapper and secured stream lean (lean_events.ts).
 * A secured stream not shaped as noise 17's is left as it is and the host warns once
 * (patch_warnings.ts). Version guard: @libp2p/noise 17.0.3 (versions.ts). Upstream fix:
 * noise's encrypt returning the ciphertext and tag as a list, and its decrypt handing a
 * `Uint8ArrayList` to a cipher that takes one instead of joining it, and @libp2p/utils'
 * `LengthPrefixedDecoder` asking its length reader how many bytes it needs instead of
 * catching a `RangeError`.
 *
 * @module
 */

import type { ConnectionEncrypter, PeerId } from "@libp2p/interface";
import { unpooledPeerId } from "./unpooled.ts";
import { leanEvents } from "./lean_events.ts";
import type { PatchWarnings } from "./patch_warnings.ts";
import { type ICryptoInterface, noise, type NoiseInit } from "@libp2p/noise";
import { defaultCrypto } from "@libp2p/noise/crypto";
import crypto from "node:crypto";
import { Uint8ArrayList } from "uint8arraylist";

/** Below this size the default (WebAssembly) cipher is faster than `node:crypto`'s. */
const NODE_CIPHER_MIN_BYTES = 1200;
const TAG_BYTES = 16;

/** Noise crypto with a copy-free ChaCha20-Poly1305 encryption for large payloads. */
export const relayNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_MIN_BYTES) {
      return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
    }
    const cipher = crypto.createCipheriv("chacha20-poly1305", k, nonce, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const output = new Uint8ArrayList();
    if (plaintext instanceof Uint8Array) {
      output.append(cipher.update(plaintext));
    } else {
      for (const buf of plaintext) output.append(cipher.update(buf));
    }
    const final = cipher.final();
    if (final.byteLength > 0) output.append(final);
    output.append(cipher.getAuthTag());
    return output;
  },
};

/** The part of noise 17's encrypted stream the decrypt fix touches. */
interface EncryptedStreamLike {
  metrics?: { decryptedPackets: { increment(): void }; decryptErrors: { increment(): void } };
  handshake?: { decrypt(ciphertext: Uint8Array | Uint8ArrayList): Uint8Array | Uint8ArrayList };
  decrypt?: (chunk: Uint8Array | Uint8ArrayList) => Uint8Array | Uint8ArrayList;
}

/**
 * Makes a secured noise stream decrypt large multi-buffer messages without joining them
 * first. The decoder hands `decrypt` one Noise message at a time (at most 65,535 bytes, a
 * 2-byte length frames it); anything else takes the original path.
 *
 * @returns False when the stream is not shaped as noise 17's (nothing is changed).
 */
export function decryptWithoutJoining(stream: unknown): boolean {
  const encrypted = stream as EncryptedStreamLike;
  const original = encrypted.decrypt;
  const handshake = encrypted.handshake;
  if (typeof original !== "function" || typeof handshake?.decrypt !== "function") return false;
  encrypted.decrypt = Object.assign(function (this: unknown, chunk: Uint8Array | Uint8ArrayList) {
    if (
      chunk instanceof Uint8Array || chunk.byteLength > NOISE_MESSAGE_MAX_BYTES ||
      chunk.byteLength < NODE_CIPHER_MIN_BYTES + TAG_BYTES
    ) {
      return original.call(this, chunk);
    }
    try {
      const plaintext = handshake.decrypt(chunk);
      encrypted.metrics?.decryptedPackets.increment();
      return plaintext;
    } catch (error) {
      encrypted.metrics?.decryptErrors.increment();
      throw error;
    }
  }, { [UNJOINED]: true });
  return true;
}

const NOISE_MESSAGE_MAX_BYTES = 65_535;
/** Set on a `decrypt` that {@linkcode decryptWithoutJoining} put in place. */
const UNJOINED = Symbol("hopd.decryptWithoutJoining");

/**
 * Whether a secured stream decrypts with {@linkcode decryptWithoutJoining}.
 *
 * @param stream A secured connection from `secureInbound` / `secureOutbound`.
 * @returns True when its `decrypt` is the one put in place here.
 */
export function isDecryptUnjoined(stream: unknown): boolean {
  const decrypt = (stream as { decrypt?: unknown } | null)?.decrypt;
  return typeof decrypt === "function" && (decrypt as { [UNJOINED]?: boolean })[UNJOINED] === true;
}

/** The part of @libp2p/utils 7's `LengthPrefixedDecoder` (noise's `decoder`) this touches. */
interface LengthDecoderLike {
  lengthDecoder?: (data: Uint8Array | Uint8ArrayList) => number;
}

/** The Noise length prefix: a 16-bit big-endian integer. */
const LENGTH_PREFIX_BYTES = 2;

/**
 * Makes a secured noise stream's decoder read message lengths without throwing when fewer
 * than two bytes are buffered (see the module doc).
 *
 * @param stream A secured connection from `secureInbound` / `secureOutbound`.
 * @returns False when the stream has no decoder shaped as @libp2p/utils 7's (nothing is
 *   changed).
 */
export function readLengthsWithoutThrowing(stream: unknown): boolean {
  const decoder = (stream as { decoder?: LengthDecoderLike } | null)?.decoder;
  const original = decoder?.lengthDecoder;
  if (typeof original !== "function") return false;
  decoder!.lengthDecoder = (data) =>
    // 0 is "wait": the decoder needs 2 + 0 bytes, more than it holds, and stops.
    data.byteLength < LENGTH_PREFIX_BYTES ? 0 : original(data);
  return true;
}

/**
 * `noise()` with {@link relayNoiseCrypto}, {@link decryptWithoutJoining} and
 * {@link readLengthsWithoutThrowing} on every secured connection.
 *
 * @param init Options for `noise()`; `crypto` is set here.
 * @param warnings Told when a connection's objects are not of the shape expected.
 * @returns A connection encrypter factory for libp2p.
 */
export function relayNoise(
  init: Omit<NoiseInit, "crypto"> = {},
  warnings?: PatchWarnings,
): (components: Parameters<ReturnType<typeof noise>>[0]) => ConnectionEncrypter {
  const factory = noise({ ...init, crypto: relayNoiseCrypto });
  return (components) => {
    const encrypter = factory(components);
    encrypter.secureInbound = forRelay(encrypter.secureInbound.bind(encrypter), warnings);
    encrypter.secureOutbound = forRelay(encrypter.secureOutbound.bind(encrypter), warnings);
    return encrypter;
  };
}

/**
 * `secure`, with the connection it secures (the socket wrapper) and the secured stream lean,
 * {@link decryptWithoutJoining} applied to the secured stream and the remote peer ID copied
 * out of the `Buffer` pool (see `unpooled.ts`).
 */
function forRelay<A extends unknown[], R extends { connection: unknown; remotePeer: PeerId }>(
  secure: (...args: A) => Promise<R>,
  warnings: PatchWarnings | undefined,
): (...args: A) => Promise<R> {
  return async (...args) => {
    // Before the handshake: noise's listeners on the socket wrapper are then lean too.
    if (!leanEvents(args[0])) warnings?.notApplied("lean_events");
    const secured = await secure(...args);
    if (!leanEvents(secured.connection)) warnings?.notApplied("lean_events");
    if (
      !decryptWithoutJoining(secured.connection) || !readLengthsWithoutThrowing(secured.connection)
    ) {
      warnings?.notApplied("noise_decrypt");
    }
    secured.remotePeer = unpooledPeerId(secured.remotePeer);
    return secured;
  };
}
