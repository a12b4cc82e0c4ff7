/**
 * Unsigned-varint length-prefixed framing for hop and stop messages, read straight off a
 * libp2p v3 message stream ('message' events) without per-byte promises. A frame longer
 * than the configured maximum is refused as soon as its length prefix is read.
 *
 * @module
 */

import type { Stream, StreamCloseEvent, StreamMessageEvent } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";

/** The peer announced a frame longer than the maximum. */
export class FrameTooLargeError extends Error {
  override name = "FrameTooLargeError";
}

/** The stream ended (closed or reset) before a whole frame arrived. */
export class StreamEndedError extends Error {
  override name = "StreamEndedError";
}

/** Bytes a peer may send beyond one maximal frame before the handshake is answered. */
const READ_AHEAD_BYTES = 64 * 1024;
/** Seven payload bits per varint byte. */
const VARINT_BITS = 7;

/** Bytes needed to varint-encode `value`. */
function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/**
 * Prefixes `payload` with its unsigned-varint length, in one buffer.
 *
 * @param payload The encoded protobuf message.
 * @returns The frame to send.
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  let length = payload.byteLength;
  const out = new Uint8Array(varintLength(length) + length);
  let i = 0;
  while (length >= 0x80) {
    out[i++] = (length & 0x7f) | 0x80;
    length >>>= VARINT_BITS;
  }
  out[i++] = length;
  out.set(payload, i);
  return out;
}

/**
 * Reads length-prefixed frames from a message stream. Call {@linkcode FrameReader.unwrap}
 * to hand the stream (and any bytes read ahead) to the data path.
 */
export class FrameReader<S extends Stream = Stream> {
  readonly #stream: S;
  readonly #maxFrameBytes: number;
  readonly #maxPrefixBytes: number;
  readonly #buffer = new Uint8ArrayList();
  #waiter: PromiseWithResolvers<void> | undefined;
  #ended = false;
  #error: Error | undefined;
  #unwrapped = false;

  /**
   * @param stream The stream to read.
   * @param maxFrameBytes Largest frame payload accepted; 0 = no limit beyond the read-ahead.
   */
  constructor(stream: S, maxFrameBytes: number) {
    this.#stream = stream;
    this.#maxFrameBytes = maxFrameBytes > 0 ? maxFrameBytes : Number.MAX_SAFE_INTEGER;
    this.#maxPrefixBytes = varintLength(this.#maxFrameBytes);
    stream.addEventListener("message", this.#onMessage);
    stream.addEventListener("close", this.#onClose);
    stream.addEventListener("remoteCloseWrite", this.#onEnd);
  }

  #onMessage = (evt: StreamMessageEvent): void => {
    this.#buffer.append(evt.data);
    if (this.#buffer.byteLength > this.#maxFrameBytes + READ_AHEAD_BYTES) {
      this.#error ??= new FrameTooLargeError("peer sent more than a frame before an answer");
    }
    this.#wake();
  };

  #onClose = (evt: StreamCloseEvent): void => {
    this.#ended = true;
    if (evt.error !== undefined) this.#error ??= evt.error;
    this.#wake();
  };

  #onEnd = (): void => {
    this.#ended = true;
    this.#wake();
  };

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  }

  /**
   * Resolves with the next frame's payload.
   *
   * @throws {FrameTooLargeError} When the announced length exceeds the maximum.
   * @throws {StreamEndedError} When the stream ends before a whole frame arrived.
   * @throws {Error} The stream's own error when it was reset or aborted.
   */
  async read(): Promise<Uint8Array> {
    while (true) {
      const frame = this.#tryDecode();
      if (frame !== undefined) return frame;
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) {
        throw new StreamEndedError(`stream ended with ${this.#buffer.byteLength} bytes of a frame`);
      }
      this.#waiter = Promise.withResolvers<void>();
      await this.#waiter.promise;
    }
  }

  #tryDecode(): Uint8Array | undefined {
    const buffered = this.#buffer.byteLength;
    let length = 0;
    let scale = 1;
    for (let i = 0; i < buffered; i++) {
      if (i >= this.#maxPrefixBytes) throw new FrameTooLargeError("length prefix too long");
      const byte = this.#buffer.get(i);
      length += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) {
        if (length > this.#maxFrameBytes) {
          throw new FrameTooLargeError(`frame of ${length} bytes exceeds ${this.#maxFrameBytes}`);
        }
        const start = i + 1;
        if (buffered < start + length) return undefined;
        const frame = this.#buffer.subarray(start, start + length);
        this.#buffer.consume(start + length);
        return frame;
      }
    }
    return undefined;
  }

  /**
   * Stops reading and returns the stream; bytes read past the last frame are put back so
   * the next 'message' listener sees them first.
   */
  unwrap(): S {
    if (this.#unwrapped) return this.#stream;
    this.#unwrapped = true;
    const stream = this.#stream;
    stream.removeEventListener("message", this.#onMessage);
    stream.removeEventListener("close", this.#onClose);
    stream.removeEventListener("remoteCloseWrite", this.#onEnd);
    if (
      this.#buffer.byteLength > 0 && stream.readStatus !== "closed" &&
      stream.readStatus !== "closing"
    ) {
      stream.unshift(this.#buffer);
    }
    return stream;
  }
}
