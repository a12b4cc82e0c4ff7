/**
 * Protobuf codec of circuit relay v2 (libp2p specs `relay/circuit-v2.md`, section Protobuf),
 * hand-written in the protons-runtime style: `encodeX(obj)` and `decodeX(bytes)` over the
 * runtime's reader and writer. Enums are carried as their names (`"RESERVE"`, `"OK"`) so
 * refusals read as values; unknown enum numbers and over-long address lists are rejected
 * with {@linkcode MalformedMessageError}.
 *
 * Field numbers, in spec order:
 * - HopMessage: type=1 peer=2 reservation=3 limit=4 status=5
 * - StopMessage: type=1 peer=2 limit=3 status=4
 * - Peer: id=1 addrs=2; Reservation: expire=1 addrs=2 voucher=3 (Envelope bytes);
 *   Limit: duration=1 (uint32 seconds) data=2 (uint64 bytes);
 *   ReservationVoucher: relay=1 peer=2 expiration=3
 *
 * @module
 */

import { decodeMessage, encodeMessage } from "protons-runtime";
import type { Reader, Writer } from "protons-runtime";
import type { Uint8ArrayList } from "uint8arraylist";
import { MAX_ADDRS_PER_MESSAGE } from "../constants.ts";

/** Status codes of the spec. */
export const STATUS_CODES = Object.freeze({
  OK: 100,
  RESERVATION_REFUSED: 200,
  RESOURCE_LIMIT_EXCEEDED: 201,
  PERMISSION_DENIED: 202,
  CONNECTION_FAILED: 203,
  NO_RESERVATION: 204,
  MALFORMED_MESSAGE: 400,
  UNEXPECTED_MESSAGE: 401,
});
/** A status name of the spec. */
export type Status = keyof typeof STATUS_CODES;

const HOP_TYPES = ["RESERVE", "CONNECT", "STATUS"] as const;
const STOP_TYPES = ["CONNECT", "STATUS"] as const;
/** `HopMessage.Type`. */
export type HopType = typeof HOP_TYPES[number];
/** `StopMessage.Type`. */
export type StopType = typeof STOP_TYPES[number];

const STATUS_BY_CODE = new Map<number, Status>(
  Object.entries(STATUS_CODES).map(([name, code]) => [code, name as Status]),
);

/** A message that does not decode, or decodes to values outside the spec. */
export class MalformedMessageError extends Error {
  override name = "MalformedMessageError";
}

/** `Peer`: a multihash peer id and optional multiaddrs. */
export interface Peer {
  id: Uint8Array;
  addrs: Uint8Array[];
}

/** `Limit`: duration in seconds, data in bytes per direction; absent = unlimited. */
export interface Limit {
  duration?: number;
  data?: bigint;
}

/** `Reservation`: expiry in unix seconds, the relay's addrs, and the signed voucher envelope. */
export interface Reservation {
  expire?: bigint;
  addrs: Uint8Array[];
  voucher?: Uint8Array;
}

/** `HopMessage`. */
export interface HopMessage {
  type?: HopType;
  peer?: Peer;
  reservation?: Reservation;
  limit?: Limit;
  status?: Status;
}

/** `StopMessage`. */
export interface StopMessage {
  type?: StopType;
  peer?: Peer;
  limit?: Limit;
  status?: Status;
}

/** `ReservationVoucher`, the envelope payload; fields written in field order (canonical). */
export interface ReservationVoucher {
  relay: Uint8Array;
  peer: Uint8Array;
  expiration: bigint;
}

// Wire tags: (field << 3) | wire type (0 varint, 2 length-delimited).
const TAG_1_VARINT = 8;
const TAG_1_BYTES = 10;
const TAG_2_VARINT = 16;
const TAG_2_BYTES = 18;
const TAG_3_VARINT = 24;
const TAG_3_BYTES = 26;
const TAG_4_VARINT = 32;
const TAG_4_BYTES = 34;
const TAG_5_VARINT = 40;

/** One enum field: its tag, then its numeric value. */
function writeEnum(w: Writer, tag: number, code: number): void {
  w.uint32(tag);
  w.int32(code);
}

function readEnum<T extends string>(r: Reader, names: readonly T[]): T {
  const value = r.int32();
  const name = names[value];
  if (name === undefined) throw new MalformedMessageError(`unknown message type ${value}`);
  return name;
}

function readStatus(r: Reader): Status {
  const code = r.int32();
  const status = STATUS_BY_CODE.get(code);
  if (status === undefined) throw new MalformedMessageError(`unknown status ${code}`);
  return status;
}

function pushAddr(addrs: Uint8Array[], r: Reader): void {
  if (addrs.length >= MAX_ADDRS_PER_MESSAGE) {
    throw new MalformedMessageError(`more than ${MAX_ADDRS_PER_MESSAGE} addrs`);
  }
  addrs.push(r.bytes());
}

function writePeer(w: Writer, tag: number, peer: Peer): void {
  w.uint32(tag).fork();
  w.uint32(TAG_1_BYTES).bytes(peer.id);
  for (const addr of peer.addrs) w.uint32(TAG_2_BYTES).bytes(addr);
  w.ldelim();
}

function readPeer(r: Reader, end: number): Peer {
  const peer: Peer = { id: new Uint8Array(0), addrs: [] };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_1_BYTES) peer.id = r.bytes();
    else if (tag === TAG_2_BYTES) pushAddr(peer.addrs, r);
    else r.skipType(tag & 7);
  }
  return peer;
}

function writeLimit(w: Writer, tag: number, limit: Limit): void {
  w.uint32(tag).fork();
  if (limit.duration !== undefined) w.uint32(TAG_1_VARINT).uint32(limit.duration);
  if (limit.data !== undefined) w.uint32(TAG_2_VARINT).uint64(limit.data);
  w.ldelim();
}

function readLimit(r: Reader, end: number): Limit {
  const limit: Limit = {};
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_1_VARINT) limit.duration = r.uint32();
    else if (tag === TAG_2_VARINT) limit.data = r.uint64();
    else r.skipType(tag & 7);
  }
  return limit;
}

function writeReservation(w: Writer, tag: number, rsv: Reservation): void {
  w.uint32(tag).fork();
  if (rsv.expire !== undefined) w.uint32(TAG_1_VARINT).uint64(rsv.expire);
  for (const addr of rsv.addrs) w.uint32(TAG_2_BYTES).bytes(addr);
  if (rsv.voucher !== undefined) w.uint32(TAG_3_BYTES).bytes(rsv.voucher);
  w.ldelim();
}

function readReservation(r: Reader, end: number): Reservation {
  const rsv: Reservation = { addrs: [] };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === TAG_1_VARINT) rsv.expire = r.uint64();
    else if (tag === TAG_2_BYTES) pushAddr(rsv.addrs, r);
    else if (tag === TAG_3_BYTES) rsv.voucher = r.bytes();
    else r.skipType(tag & 7);
  }
  return rsv;
}

/** Reads the length of a nested message and returns where it ends, bounds-checked. */
function nestedEnd(r: Reader): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new MalformedMessageError("nested message runs past the end");
  return end;
}

/** Runs a decoder, turning the runtime's range errors into {@linkcode MalformedMessageError}. */
function decodeWith<T>(buf: Uint8Array | Uint8ArrayList, read: (r: Reader) => T): T {
  try {
    return decodeMessage<T, T>(buf, { decode: (r) => read(r) });
  } catch (error) {
    if (error instanceof MalformedMessageError) throw error;
    throw new MalformedMessageError((error as Error).message, { cause: error });
  }
}

/** Encodes a HopMessage (without the length prefix). */
export function encodeHopMessage(msg: HopMessage): Uint8Array {
  return encodeMessage<HopMessage, HopMessage>(msg, {
    encode(m, w) {
      if (m.type !== undefined) writeEnum(w, TAG_1_VARINT, HOP_TYPES.indexOf(m.type));
      if (m.peer !== undefined) writePeer(w, TAG_2_BYTES, m.peer);
      if (m.reservation !== undefined) writeReservation(w, TAG_3_BYTES, m.reservation);
      if (m.limit !== undefined) writeLimit(w, TAG_4_BYTES, m.limit);
      if (m.status !== undefined) writeEnum(w, TAG_5_VARINT, STATUS_CODES[m.status]);
    },
  });
}

/**
 * Decodes a HopMessage.
 *
 * @throws {MalformedMessageError} On truncated bytes, unknown enum values or too many addrs.
 */
export function decodeHopMessage(buf: Uint8Array | Uint8ArrayList): HopMessage {
  return decodeWith(buf, (r) => {
    const msg: HopMessage = {};
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === TAG_1_VARINT) msg.type = readEnum(r, HOP_TYPES);
      else if (tag === TAG_2_BYTES) msg.peer = readPeer(r, nestedEnd(r));
      else if (tag === TAG_3_BYTES) msg.reservation = readReservation(r, nestedEnd(r));
      else if (tag === TAG_4_BYTES) msg.limit = readLimit(r, nestedEnd(r));
      else if (tag === TAG_5_VARINT) msg.status = readStatus(r);
      else r.skipType(tag & 7);
    }
    return msg;
  });
}

/** Encodes a StopMessage (without the length prefix). */
export function encodeStopMessage(msg: StopMessage): Uint8Array {
  return encodeMessage<StopMessage, StopMessage>(msg, {
    encode(m, w) {
      if (m.type !== undefined) writeEnum(w, TAG_1_VARINT, STOP_TYPES.indexOf(m.type));
      if (m.peer !== undefined) writePeer(w, TAG_2_BYTES, m.peer);
      if (m.limit !== undefined) writeLimit(w, TAG_3_BYTES, m.limit);
      if (m.status !== undefined) writeEnum(w, TAG_4_VARINT, STATUS_CODES[m.status]);
    },
  });
}

/**
 * Decodes a StopMessage.
 *
 * @throws {MalformedMessageError} On truncated bytes, unknown enum values or too many addrs.
 */
export function decodeStopMessage(buf: Uint8Array | Uint8ArrayList): StopMessage {
  return decodeWith(buf, (r) => {
    const msg: StopMessage = {};
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === TAG_1_VARINT) msg.type = readEnum(r, STOP_TYPES);
      else if (tag === TAG_2_BYTES) msg.peer = readPeer(r, nestedEnd(r));
      else if (tag === TAG_3_BYTES) msg.limit = readLimit(r, nestedEnd(r));
      else if (tag === TAG_4_VARINT) msg.status = readStatus(r);
      else r.skipType(tag & 7);
    }
    return msg;
  });
}

/** Encodes a ReservationVoucher in canonical form (fields in field-number order). */
export function encodeReservationVoucher(voucher: ReservationVoucher): Uint8Array {
  return encodeMessage<ReservationVoucher, ReservationVoucher>(voucher, {
    encode(v, w) {
      w.uint32(TAG_1_BYTES).bytes(v.relay);
      w.uint32(TAG_2_BYTES).bytes(v.peer);
      w.uint32(TAG_3_VARINT).uint64(v.expiration);
    },
  });
}

/**
 * Decodes a ReservationVoucher.
 *
 * @throws {MalformedMessageError} On truncated bytes.
 */
export function decodeReservationVoucher(buf: Uint8Array | Uint8ArrayList): ReservationVoucher {
  return decodeWith(buf, (r) => {
    const v: ReservationVoucher = {
      relay: new Uint8Array(0),
      peer: new Uint8Array(0),
      expiration: 0n,
    };
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === TAG_1_BYTES) v.relay = r.bytes();
      else if (tag === TAG_2_BYTES) v.peer = r.bytes();
      else if (tag === TAG_3_VARINT) v.expiration = r.uint64();
      else r.skipType(tag & 7);
    }
    return v;
  });
}
