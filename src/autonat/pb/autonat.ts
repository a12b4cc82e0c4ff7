/**
 * Protobuf codec of AutoNAT v1 (libp2p specs `autonat/autonat-v1.md`, section Protocol),
 * hand-written in the protons-runtime style of `src/relay/pb/circuit.ts`. Enums are carried
 * as their names; unknown enum numbers and over-long address lists are rejected with
 * {@linkcode MalformedAutonatMessageError}.
 *
 * Field numbers, in spec order:
 * - Message: type=1 dial=2 dialResponse=3
 * - Dial: peer=1; PeerInfo: id=1 addrs=2
 * - DialResponse: status=1 statusText=2 addr=3
 *
 * @module
 */

import { decodeMessage, encodeMessage } from "protons-runtime";
import type { Reader, Writer } from "protons-runtime";
import type { Uint8ArrayList } from "uint8arraylist";

/** `Message.MessageType`: DIAL=0, DIAL_RESPONSE=1. */
export const MESSAGE_TYPES = ["DIAL", "DIAL_RESPONSE"] as const;
/** A message type name. */
export type MessageType = typeof MESSAGE_TYPES[number];

/** `Message.ResponseStatus` codes. */
export const RESPONSE_STATUS_CODES = Object.freeze({
  OK: 0,
  E_DIAL_ERROR: 100,
  E_DIAL_REFUSED: 101,
  E_BAD_REQUEST: 200,
  E_INTERNAL_ERROR: 300,
});
/** A response status name. */
export type ResponseStatus = keyof typeof RESPONSE_STATUS_CODES;

/** Most addresses read from one PeerInfo; the rest of a longer list is refused. */
export const MAX_PEER_ADDRS = 64;

/** `Message.PeerInfo`. */
export interface PeerInfo {
  id?: Uint8Array;
  addrs: Uint8Array[];
}

/** `Message.DialResponse`. */
export interface DialResponse {
  status?: ResponseStatus;
  statusText?: string;
  addr?: Uint8Array;
}

/** `Message`. */
export interface AutonatMessage {
  type?: MessageType;
  dial?: { peer?: PeerInfo };
  dialResponse?: DialResponse;
}

/** Bytes that do not decode as an AutoNAT message. */
export class MalformedAutonatMessageError extends Error {
  override name = "MalformedAutonatMessageError";
}

const STATUS_BY_CODE = new Map<number, ResponseStatus>(
  Object.entries(RESPONSE_STATUS_CODES).map(([name, code]) => [code, name as ResponseStatus]),
);

function encodePeerInfo(info: PeerInfo, w: Writer): void {
  if (info.id !== undefined) {
    w.uint32(10);
    w.bytes(info.id);
  }
  for (const addr of info.addrs) {
    w.uint32(18);
    w.bytes(addr);
  }
}

function decodePeerInfo(reader: Reader, length: number): PeerInfo {
  const end = reader.pos + length;
  const info: PeerInfo = { addrs: [] };
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) info.id = reader.bytes();
    else if (tag >>> 3 === 2) {
      if (info.addrs.length >= MAX_PEER_ADDRS) {
        throw new MalformedAutonatMessageError(`more than ${MAX_PEER_ADDRS} addresses`);
      }
      info.addrs.push(reader.bytes());
    } else reader.skipType(tag & 7);
  }
  return info;
}

function decodeDial(reader: Reader, length: number): { peer?: PeerInfo } {
  const end = reader.pos + length;
  const dial: { peer?: PeerInfo } = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) dial.peer = decodePeerInfo(reader, reader.uint32());
    else reader.skipType(tag & 7);
  }
  return dial;
}

function encodeDialResponse(response: DialResponse, w: Writer): void {
  if (response.status !== undefined) {
    w.uint32(8);
    w.int32(RESPONSE_STATUS_CODES[response.status]);
  }
  if (response.statusText !== undefined) {
    w.uint32(18);
    w.string(response.statusText);
  }
  if (response.addr !== undefined) {
    w.uint32(26);
    w.bytes(response.addr);
  }
}

function decodeDialResponse(reader: Reader, length: number): DialResponse {
  const end = reader.pos + length;
  const response: DialResponse = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) {
      const code = reader.int32();
      const status = STATUS_BY_CODE.get(code);
      if (status === undefined) throw new MalformedAutonatMessageError(`unknown status ${code}`);
      response.status = status;
    } else if (field === 2) response.statusText = reader.string();
    else if (field === 3) response.addr = reader.bytes();
    else reader.skipType(tag & 7);
  }
  return response;
}

const MESSAGE_CODEC = {
  encode(message: AutonatMessage, w: Writer): void {
    if (message.type !== undefined) {
      w.uint32(8);
      w.int32(MESSAGE_TYPES.indexOf(message.type));
    }
    if (message.dial !== undefined) {
      w.uint32(18);
      w.fork();
      if (message.dial.peer !== undefined) {
        w.uint32(10);
        w.fork();
        encodePeerInfo(message.dial.peer, w);
        w.ldelim();
      }
      w.ldelim();
    }
    if (message.dialResponse !== undefined) {
      w.uint32(26);
      w.fork();
      encodeDialResponse(message.dialResponse, w);
      w.ldelim();
    }
  },
  decode(reader: Reader, length?: number): AutonatMessage {
    const end = length === undefined ? reader.len : reader.pos + length;
    const message: AutonatMessage = {};
    while (reader.pos < end) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      if (field === 1) {
        const code = reader.int32();
        const type = MESSAGE_TYPES[code];
        if (type === undefined) throw new MalformedAutonatMessageError(`unknown type ${code}`);
        message.type = type;
      } else if (field === 2) message.dial = decodeDial(reader, reader.uint32());
      else if (field === 3) message.dialResponse = decodeDialResponse(reader, reader.uint32());
      else reader.skipType(tag & 7);
    }
    return message;
  },
};

/**
 * Encodes an AutoNAT message (without its length prefix).
 *
 * @param message The message.
 * @returns Its protobuf bytes.
 */
export function encodeAutonatMessage(message: AutonatMessage): Uint8Array {
  return encodeMessage<AutonatMessage, AutonatMessage>(message, {
    encode: (m, w) => MESSAGE_CODEC.encode(m, w),
  });
}

/**
 * Decodes an AutoNAT message.
 *
 * @param bytes Its protobuf bytes (without the length prefix).
 * @returns The message.
 * @throws {MalformedAutonatMessageError} On bytes that are not an AutoNAT message.
 */
export function decodeAutonatMessage(bytes: Uint8Array | Uint8ArrayList): AutonatMessage {
  try {
    return decodeMessage<AutonatMessage, AutonatMessage>(bytes, {
      decode: (reader) => MESSAGE_CODEC.decode(reader),
    });
  } catch (error) {
    if (error instanceof MalformedAutonatMessageError) throw error;
    throw new MalformedAutonatMessageError(`bad protobuf: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
