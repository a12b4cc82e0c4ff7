/**
 * Protobuf codec of the federation's load report, the payload of every message on the
 * federation topic, hand-written in the protons-runtime style of `src/relay/pb/`. The
 * sender's identity is not in the report: gossipsub's StrictSign envelope carries it
 * (`from`, signed with the sender's key), and the validator checks it against the allowlist.
 *
 * ```proto
 * message LoadReport {
 *   uint64 epoch = 1;            // sender's start time, ms since the epoch
 *   uint64 seq = 2;              // per-epoch sequence, +1 per report
 *   uint64 sent_at_ms = 3;       // sender's wall clock when sent
 *   uint32 interval_ms = 4;      // sender's report interval
 *   repeated bytes addrs = 5;    // public multiaddrs (binary, without /p2p)
 *   string region = 6;
 *   optional double lat = 7;     // degrees, with lon
 *   optional double lon = 8;
 *   Capacity capacity = 9;       // max_reservations=1 max_circuits=2 bandwidth_bytes_per_second=3
 *   Load load = 10;              // reservations=1 circuits=2 bytes_per_second_in=3
 *                                // bytes_per_second_out=4 cpu=5 (double) memory_bytes=6
 *   Verdict verdict = 11;        // HEALTHY=0 DEGRADED=1 UNHEALTHY=2
 *   bool draining = 12;
 *   double weight = 13;
 *   bool leaving = 14;           // sent once on a clean stop: forget me now
 * }
 * ```
 *
 * Decoding is strict where a value would mislead the balancer: unknown verdicts, non-finite
 * or out-of-range numbers, too many or too long addrs and an over-long region are rejected
 * with {@linkcode MalformedReportError}. Unknown fields are skipped (forward compatible).
 *
 * @module
 */

import { decodeMessage, encodeMessage } from "protons-runtime";
import type { Reader, Writer } from "protons-runtime";
import type { Uint8ArrayList } from "uint8arraylist";
import { type Verdict, VERDICTS } from "../../balancer/mod.ts";
import { MAX_REPORT_ADDR_BYTES, MAX_REPORT_ADDRS, MAX_REPORT_REGION_CHARS } from "../constants.ts";

/** A report that does not decode or holds values outside their range. */
export class MalformedReportError extends Error {
  override name = "MalformedReportError";
}

/** `Capacity`; 0 = unlimited or unknown. */
export interface ReportCapacity {
  maxReservations: number;
  maxCircuits: number;
  bandwidthBytesPerSecond: number;
}

/** `Load`. */
export interface ReportLoad {
  reservations: number;
  circuits: number;
  bytesPerSecondIn: number;
  bytesPerSecondOut: number;
  /** Fraction of one core. */
  cpu: number;
  memoryBytes: number;
}

/** `LoadReport`. */
export interface LoadReport {
  epoch: number;
  seq: number;
  sentAtMs: number;
  intervalMs: number;
  /** Binary multiaddrs. */
  addrs: Uint8Array[];
  region: string;
  lat?: number;
  lon?: number;
  capacity: ReportCapacity;
  load: ReportLoad;
  verdict: Verdict;
  draining: boolean;
  weight: number;
  leaving: boolean;
}

/** A verdict's wire code is its index in VERDICTS (HEALTHY=0 DEGRADED=1 UNHEALTHY=2). */
const VERDICT_CODES: readonly Verdict[] = VERDICTS;
/** Largest weight a report may carry (the policy action's bound). */
const MAX_WEIGHT = 1_000;

// Wire tags: (field << 3) | wire type (0 varint, 1 64-bit, 2 length-delimited).
const varint = (field: number) => (field << 3) | 0;
const fixed64 = (field: number) => (field << 3) | 1;
const bytes = (field: number) => (field << 3) | 2;

function writeCapacity(w: Writer, c: ReportCapacity): void {
  w.uint32(bytes(9)).fork();
  w.uint32(varint(1)).uint64Number(c.maxReservations);
  w.uint32(varint(2)).uint64Number(c.maxCircuits);
  w.uint32(varint(3)).uint64Number(c.bandwidthBytesPerSecond);
  w.ldelim();
}

function writeLoad(w: Writer, l: ReportLoad): void {
  w.uint32(bytes(10)).fork();
  w.uint32(varint(1)).uint64Number(l.reservations);
  w.uint32(varint(2)).uint64Number(l.circuits);
  w.uint32(varint(3)).uint64Number(Math.round(l.bytesPerSecondIn));
  w.uint32(varint(4)).uint64Number(Math.round(l.bytesPerSecondOut));
  w.uint32(fixed64(5)).double(l.cpu);
  w.uint32(varint(6)).uint64Number(Math.round(l.memoryBytes));
  w.ldelim();
}

/**
 * Encodes a report.
 *
 * @param report The report; integers must be non-negative safe integers.
 * @returns Its bytes.
 */
export function encodeLoadReport(report: LoadReport): Uint8Array {
  return encodeMessage<LoadReport, LoadReport>(report, {
    encode(r, w) {
      w.uint32(varint(1)).uint64Number(r.epoch);
      w.uint32(varint(2)).uint64Number(r.seq);
      w.uint32(varint(3)).uint64Number(r.sentAtMs);
      w.uint32(varint(4)).uint32(r.intervalMs);
      for (const addr of r.addrs) w.uint32(bytes(5)).bytes(addr);
      if (r.region !== "") w.uint32(bytes(6)).string(r.region);
      if (r.lat !== undefined && r.lon !== undefined) {
        w.uint32(fixed64(7)).double(r.lat);
        w.uint32(fixed64(8)).double(r.lon);
      }
      writeCapacity(w, r.capacity);
      writeLoad(w, r.load);
      if (r.verdict !== "healthy") w.uint32(varint(11)).int32(VERDICT_CODES.indexOf(r.verdict));
      if (r.draining) w.uint32(varint(12)).bool(true);
      w.uint32(fixed64(13)).double(r.weight);
      if (r.leaving) w.uint32(varint(14)).bool(true);
    },
  });
}

function nestedEnd(r: Reader): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > r.len) throw new MalformedReportError("nested message runs past the end");
  return end;
}

function safeCount(r: Reader, what: string): number {
  const value = r.uint64Number();
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MalformedReportError(`${what} is out of range`);
  }
  return value;
}

function readCapacity(r: Reader, end: number): ReportCapacity {
  const c: ReportCapacity = { maxReservations: 0, maxCircuits: 0, bandwidthBytesPerSecond: 0 };
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === varint(1)) c.maxReservations = safeCount(r, "capacity.maxReservations");
    else if (tag === varint(2)) c.maxCircuits = safeCount(r, "capacity.maxCircuits");
    else if (tag === varint(3)) c.bandwidthBytesPerSecond = safeCount(r, "capacity.bandwidth");
    else r.skipType(tag & 7);
  }
  return c;
}

function emptyLoad(): ReportLoad {
  return {
    reservations: 0,
    circuits: 0,
    bytesPerSecondIn: 0,
    bytesPerSecondOut: 0,
    cpu: 0,
    memoryBytes: 0,
  };
}

function readLoad(r: Reader, end: number): ReportLoad {
  const l = emptyLoad();
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === varint(1)) l.reservations = safeCount(r, "load.reservations");
    else if (tag === varint(2)) l.circuits = safeCount(r, "load.circuits");
    else if (tag === varint(3)) l.bytesPerSecondIn = safeCount(r, "load.bytesPerSecondIn");
    else if (tag === varint(4)) l.bytesPerSecondOut = safeCount(r, "load.bytesPerSecondOut");
    else if (tag === fixed64(5)) l.cpu = r.double();
    else if (tag === varint(6)) l.memoryBytes = safeCount(r, "load.memoryBytes");
    else r.skipType(tag & 7);
  }
  if (!(Number.isFinite(l.cpu) && l.cpu >= 0 && l.cpu <= 1_024)) {
    throw new MalformedReportError(`load.cpu ${l.cpu} is out of range`);
  }
  return l;
}

function check(report: LoadReport): LoadReport {
  const { lat, lon, weight } = report;
  if ((lat === undefined) !== (lon === undefined)) {
    throw new MalformedReportError("lat and lon must come together");
  }
  if (lat !== undefined && !(lat >= -90 && lat <= 90 && lon! >= -180 && lon! <= 180)) {
    throw new MalformedReportError(`coordinates ${lat},${lon} are out of range`);
  }
  if (!(Number.isFinite(weight) && weight >= 0 && weight <= MAX_WEIGHT)) {
    throw new MalformedReportError(`weight ${weight} is not in 0..${MAX_WEIGHT}`);
  }
  if (report.region.length > MAX_REPORT_REGION_CHARS) {
    throw new MalformedReportError(`region is longer than ${MAX_REPORT_REGION_CHARS} characters`);
  }
  return report;
}

/**
 * Decodes a report.
 *
 * @param buf The bytes.
 * @returns The report.
 * @throws {MalformedReportError} On truncated bytes or out-of-range values.
 */
export function decodeLoadReport(buf: Uint8Array | Uint8ArrayList): LoadReport {
  let report: LoadReport;
  try {
    report = decodeMessage<LoadReport, LoadReport>(buf, {
      decode(r) {
        const m: LoadReport = {
          epoch: 0,
          seq: 0,
          sentAtMs: 0,
          intervalMs: 0,
          addrs: [],
          region: "",
          capacity: { maxReservations: 0, maxCircuits: 0, bandwidthBytesPerSecond: 0 },
          load: emptyLoad(),
          verdict: "healthy",
          draining: false,
          weight: 1,
          leaving: false,
        };
        while (r.pos < r.len) {
          const tag = r.uint32();
          if (tag === varint(1)) m.epoch = safeCount(r, "epoch");
          else if (tag === varint(2)) m.seq = safeCount(r, "seq");
          else if (tag === varint(3)) m.sentAtMs = safeCount(r, "sentAtMs");
          else if (tag === varint(4)) m.intervalMs = r.uint32();
          else if (tag === bytes(5)) {
            if (m.addrs.length >= MAX_REPORT_ADDRS) {
              throw new MalformedReportError(`more than ${MAX_REPORT_ADDRS} addrs`);
            }
            const addr = r.bytes();
            if (addr.length > MAX_REPORT_ADDR_BYTES) {
              throw new MalformedReportError(
                `an addr is longer than ${MAX_REPORT_ADDR_BYTES} bytes`,
              );
            }
            m.addrs.push(addr);
          } else if (tag === bytes(6)) m.region = r.string();
          else if (tag === fixed64(7)) m.lat = r.double();
          else if (tag === fixed64(8)) m.lon = r.double();
          else if (tag === bytes(9)) m.capacity = readCapacity(r, nestedEnd(r));
          else if (tag === bytes(10)) m.load = readLoad(r, nestedEnd(r));
          else if (tag === varint(11)) {
            const code = r.int32();
            const verdict = VERDICT_CODES[code];
            if (verdict === undefined) throw new MalformedReportError(`unknown verdict ${code}`);
            m.verdict = verdict;
          } else if (tag === varint(12)) m.draining = r.bool();
          else if (tag === fixed64(13)) m.weight = r.double();
          else if (tag === varint(14)) m.leaving = r.bool();
          else r.skipType(tag & 7);
        }
        return m;
      },
    });
  } catch (error) {
    if (error instanceof MalformedReportError) throw error;
    throw new MalformedReportError((error as Error).message, { cause: error });
  }
  return check(report);
}
