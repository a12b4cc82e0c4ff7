/**
 * The balancer's table and its rankings (see `mod.ts` for the algorithms).
 *
 * Layout: one row per relay in parallel typed arrays, holding what a ranking reads: the
 * health-and-weight factor (0 = filtered out), the capacity and least-connections scores
 * (computed when the row is written), coordinates as
 * a unit vector, region number, ping RTT and a hash of the peer ID. An update rewrites one
 * row; a removal moves the last row into the hole. A selection is one pass over the rows
 * that keeps the best `n` in a small sorted array, so it allocates nothing per row and costs
 * a few nanoseconds per relay. The two algorithms that need a logarithm or an arcsine per
 * relay first compare a cheap upper bound of the score with the current n-th best and skip
 * the exact score when it cannot enter the ranking (exact results, bounded work).
 *
 * @module
 */

import { GOLDEN_RATIO_32, hashString } from "./_hash.ts";
import {
  DEFAULT_SELECT_COUNT,
  DEGRADED_FACTOR,
  EARTH_RADIUS_KM,
  GEO_RTT_SCALE_MS,
  KM_PER_RTT_MS,
  MAX_SELECT_COUNT,
  REGION_MISMATCH_RTT_MS,
  UNKNOWN_RTT_MS,
} from "./constants.ts";
import { toUnitVector } from "./geo.ts";
import type { Algorithm, RankedRelay, RelayEntry, SelectHints, Selection } from "./mod.ts";

const INITIAL_ROWS = 16;
const INVERSE_2_POW_32 = 1 / 4_294_967_296;
/** Capacity headroom floor, so a relay busy on CPU or bandwidth ranks last but still ranks. */
const MIN_HEADROOM = 0.001;
const NO_REGION = -1;
/** Kilometres of estimated RTT per unit of chord or angle on the unit sphere. */
const RTT_MS_PER_RADIAN = EARTH_RADIUS_KM / KM_PER_RTT_MS;

function finiteOr(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/**
 * The free fraction of a relay's most loaded dimension (reservations, circuits, bandwidth,
 * CPU), in 0..1; a dimension with capacity 0 (unlimited or unknown) is not counted.
 *
 * @param entry The relay.
 * @returns The headroom; 0 means that some dimension is used up.
 */
export function headroomOf(entry: RelayEntry): number {
  const { capacity, load } = entry;
  let free = 1 - Math.max(0, finiteOr(load.cpu, 0));
  if (capacity.maxReservations > 0) {
    free = Math.min(free, 1 - finiteOr(load.reservations, 0) / capacity.maxReservations);
  }
  if (capacity.maxCircuits > 0) {
    free = Math.min(free, 1 - finiteOr(load.circuits, 0) / capacity.maxCircuits);
  }
  if (capacity.bandwidthBytesPerSecond > 0) {
    const used = finiteOr(load.bytesPerSecondIn, 0) + finiteOr(load.bytesPerSecondOut, 0);
    free = Math.min(free, 1 - used / capacity.bandwidthBytesPerSecond);
  }
  return Math.max(0, Math.min(1, free));
}

/**
 * Whether a relay would refuse a new client outright: its reservations or circuits are at
 * their limit. (Bandwidth and CPU at their ceiling make a relay rank last, not vanish: a
 * busy relay still serves, and a one-second CPU sample is too noisy to drop it on.)
 */
export function isFull(entry: RelayEntry): boolean {
  const { capacity, load } = entry;
  return (capacity.maxReservations > 0 &&
    finiteOr(load.reservations, 0) >= capacity.maxReservations) ||
    (capacity.maxCircuits > 0 && finiteOr(load.circuits, 0) >= capacity.maxCircuits);
}

/**
 * The health-and-weight factor of a relay: 0 when the health filter removes it (not alive,
 * draining, unhealthy, weight 0, full), else its weight, halved (by
 * {@linkcode DEGRADED_FACTOR}) when degraded.
 *
 * @param entry The relay.
 * @returns The factor.
 */
export function factorOf(entry: RelayEntry): number {
  if (entry.state !== "alive" || entry.draining || entry.verdict === "unhealthy") return 0;
  const weight = finiteOr(entry.weight, 0);
  if (weight <= 0 || isFull(entry)) return 0;
  return entry.verdict === "degraded" ? weight * DEGRADED_FACTOR : weight;
}

/** The relay table and its rankings; build with `createBalancer()`. */
export class Balancer {
  /** Algorithm used when a selection names none. */
  readonly defaultAlgorithm: Algorithm;
  #count = 0;
  #entries: RelayEntry[] = [];
  readonly #index = new Map<string, number>();
  /** Health-and-weight factor; 0 = filtered out. */
  #factor = new Float64Array(INITIAL_ROWS);
  /** `capacity` score (factor × headroom), or -1 when filtered out. */
  #capacityScore = new Float64Array(INITIAL_ROWS);
  /** `least_connections` score (factor / (1 + connections)), or -1 when filtered out. */
  #leastScore = new Float64Array(INITIAL_ROWS);
  /** Unit vector of the coordinates, 4 numbers per row (x, y, z, unused); NaN when unknown. */
  #unit = new Float64Array(INITIAL_ROWS * 4);
  #region = new Int32Array(INITIAL_ROWS);
  #rtt = new Float64Array(INITIAL_ROWS);
  #hash = new Uint32Array(INITIAL_ROWS);
  /** The peer ID hash times the golden-ratio constant (the first step of `pairUniform`). */
  #hashMul = new Int32Array(INITIAL_ROWS);
  #wrr = new Float64Array(INITIAL_ROWS);
  readonly #regionIds = new Map<string, number>();
  /** Per region: sum of the unit vectors of its relays with coordinates (x, y, z), and count. */
  readonly #regionSums: number[] = [];
  readonly #topScore = new Float64Array(MAX_SELECT_COUNT);
  readonly #topRow = new Int32Array(MAX_SELECT_COUNT);
  #topLen = 0;
  #topN = 0;

  /**
   * Creates a balancer with empty tables.
   *
   * @param defaultAlgorithm Algorithm used when a selection names none.
   */
  constructor(defaultAlgorithm: Algorithm) {
    this.defaultAlgorithm = defaultAlgorithm;
  }

  /** Number of relays in the table (whatever their state). */
  get size(): number {
    return this.#count;
  }

  /** Whether `peerId` is in the table. */
  has(peerId: string): boolean {
    return this.#index.has(peerId);
  }

  /** The entry of `peerId`, as last given. */
  get(peerId: string): RelayEntry | undefined {
    const row = this.#index.get(peerId);
    return row === undefined ? undefined : this.#entries[row];
  }

  /** Every entry, in table order. */
  entries(): RelayEntry[] {
    return this.#entries.slice(0, this.#count);
  }

  /**
   * Adds a relay or replaces what is known about it.
   *
   * @param entry The relay's latest state.
   */
  upsert(entry: RelayEntry): void {
    let row = this.#index.get(entry.peerId);
    if (row === undefined) {
      if (this.#count === this.#factor.length) this.#grow();
      row = this.#count++;
      this.#index.set(entry.peerId, row);
      this.#hash[row] = hashString(entry.peerId);
      this.#hashMul[row] = Math.imul(this.#hash[row]!, GOLDEN_RATIO_32);
      this.#wrr[row] = 0;
    } else {
      this.#addToRegion(row, -1);
    }
    this.#entries[row] = entry;
    // A relay with no headroom left in a soft dimension (CPU, bandwidth) still ranks, last.
    const headroom = Math.max(MIN_HEADROOM, headroomOf(entry));
    const factor = factorOf(entry);
    this.#factor[row] = factor;
    // A relay filtered out starts its round-robin account afresh when it comes back.
    if (factor === 0) this.#wrr[row] = 0;
    const conns = Math.max(0, finiteOr(entry.load.reservations, 0)) +
      Math.max(0, finiteOr(entry.load.circuits, 0));
    this.#capacityScore[row] = factor > 0 ? factor * headroom : -1;
    this.#leastScore[row] = factor > 0 ? factor / (1 + conns) : -1;
    const unit = this.#unit;
    if (Number.isFinite(entry.lat) && Number.isFinite(entry.lon)) {
      const v = toUnitVector(entry.lat!, entry.lon!);
      unit[row * 4] = v.x;
      unit[row * 4 + 1] = v.y;
      unit[row * 4 + 2] = v.z;
    } else {
      unit[row * 4] = NaN;
      unit[row * 4 + 1] = NaN;
      unit[row * 4 + 2] = NaN;
    }
    this.#region[row] = entry.region === undefined || entry.region === ""
      ? NO_REGION
      : this.#regionId(entry.region);
    this.#rtt[row] = finiteOr(entry.rttMs, NaN);
    this.#addToRegion(row, 1);
  }

  /**
   * Removes a relay.
   *
   * @param peerId Its peer ID.
   * @returns Whether it was in the table.
   */
  remove(peerId: string): boolean {
    const row = this.#index.get(peerId);
    if (row === undefined) return false;
    this.#addToRegion(row, -1);
    this.#index.delete(peerId);
    const last = --this.#count;
    if (row !== last) {
      const moved = this.#entries[last]!;
      this.#entries[row] = moved;
      this.#index.set(moved.peerId, row);
      for (
        const column of [
          this.#factor,
          this.#capacityScore,
          this.#leastScore,
          this.#region,
          this.#rtt,
          this.#hash,
          this.#hashMul,
          this.#wrr,
        ]
      ) column[row] = column[last]!;
      this.#unit.copyWithin(row * 4, last * 4, last * 4 + 4);
    }
    this.#entries.length = this.#count;
    return true;
  }

  /**
   * Ranks the relays for one client.
   *
   * @param hints What the client tells about itself.
   * @returns The best relays, best first (fewer than asked when fewer pass the filter).
   */
  select(hints: SelectHints = {}): Selection {
    let algorithm = hints.algorithm ?? this.defaultAlgorithm;
    const n = Math.max(1, Math.min(MAX_SELECT_COUNT, Math.trunc(hints.n ?? DEFAULT_SELECT_COUNT)));
    this.#topLen = 0;
    this.#topN = n;
    let wrrTotal = 0;
    switch (algorithm) {
      case "capacity":
        this.#rankStatic(this.#capacityScore);
        break;
      case "least_connections":
        this.#rankStatic(this.#leastScore);
        break;
      case "weighted_round_robin":
        wrrTotal = this.#rankRoundRobin();
        break;
      case "geo":
        this.#rankGeo(hints);
        break;
      case "affinity":
        if (hints.peer === undefined || hints.peer === "") {
          algorithm = "capacity";
          this.#rankStatic(this.#capacityScore);
        } else {
          this.#rankAffinity(hashString(hints.peer));
        }
        break;
    }
    const relays: RankedRelay[] = [];
    for (let k = 0; k < this.#topLen; k++) {
      const entry = this.#entries[this.#topRow[k]!]!;
      const raw = this.#topScore[k]!;
      // Round-robin accounts lie in (-total, total]; shown as 0..1.
      const score = wrrTotal > 0 ? (raw + wrrTotal) / (2 * wrrTotal) : raw;
      relays.push(
        entry.region === undefined
          ? { peerId: entry.peerId, addrs: entry.addrs, score }
          : { peerId: entry.peerId, addrs: entry.addrs, score, region: entry.region },
      );
    }
    return { algorithm, relays };
  }

  /** Ranks by a score computed when the row was written (-1 = filtered out). */
  #rankStatic(scores: Float64Array): void {
    const n = this.#topN;
    const count = this.#count;
    // Rows below the current n-th best are skipped without a call; ties go to #offer.
    let floor = 0;
    for (let i = 0; i < count; i++) {
      const score = scores[i]!;
      if (score < floor || score <= 0) continue;
      this.#offer(i, score);
      if (this.#topLen === n) floor = this.#topScore[n - 1]!;
    }
  }

  /** Smooth weighted round robin; returns the total weight (0 when nothing passed). */
  #rankRoundRobin(): number {
    const factor = this.#factor;
    const wrr = this.#wrr;
    const n = this.#topN;
    const count = this.#count;
    let total = 0;
    let floor = -Infinity;
    for (let i = 0; i < count; i++) {
      const f = factor[i]!;
      if (f > 0) {
        const current = wrr[i]! + f;
        wrr[i] = current;
        total += f;
        if (current >= floor) {
          this.#offer(i, current);
          if (this.#topLen === n) floor = this.#topScore[n - 1]!;
        }
      }
    }
    if (this.#topLen > 0) {
      const first = this.#topRow[0]!;
      wrr[first] = wrr[first]! - total;
    }
    return total;
  }

  #rankGeo(hints: SelectHints): void {
    const factor = this.#factor;
    const unit = this.#unit;
    const region = this.#region;
    const rtt = this.#rtt;
    const clientRegion = hints.region === undefined || hints.region === ""
      ? undefined
      : (this.#regionIds.get(hints.region) ?? -2);
    let cx = NaN;
    let cy = NaN;
    let cz = NaN;
    if (Number.isFinite(hints.lat) && Number.isFinite(hints.lon)) {
      const v = toUnitVector(hints.lat!, hints.lon!);
      cx = v.x;
      cy = v.y;
      cz = v.z;
    } else if (clientRegion !== undefined && clientRegion >= 0) {
      const centre = this.#regionCentre(clientRegion);
      if (centre !== undefined) [cx, cy, cz] = centre;
    }
    const clientHasCoords = !Number.isNaN(cx);
    const located = clientHasCoords || clientRegion !== undefined;
    const n = this.#topN;
    const count = this.#count;
    // With the n-th best score t, a row of factor f can only enter when
    // f / (1 + k·arc) >= t, i.e. k·arc <= f/t - 1 (k = RTT ms per radian / scale). The chord
    // is at most the arc, so k²·chord² > (f/t - 1)² rules a row out with no sqrt or asin.
    const k = RTT_MS_PER_RADIAN / GEO_RTT_SCALE_MS;
    const kSquared = k * k;
    let floor = 0;
    let inverseFloor = Infinity;
    for (let i = 0; i < count; i++) {
      const f = factor[i]!;
      if (f <= 0 || f < floor) continue;
      let estimateMs: number;
      const x = unit[i * 4]!;
      if (clientHasCoords && !Number.isNaN(x)) {
        const chordSquared = 2 - 2 * (cx * x + cy * unit[i * 4 + 1]! + cz * unit[i * 4 + 2]!);
        const slack = f * inverseFloor - 1;
        if (kSquared * chordSquared > slack * slack) continue;
        const chord = chordSquared > 0 ? Math.sqrt(chordSquared) : 0;
        estimateMs = 2 * Math.asin(Math.min(1, chord / 2)) * RTT_MS_PER_RADIAN;
      } else if (clientRegion !== undefined && region[i] !== NO_REGION) {
        estimateMs = region[i] === clientRegion ? 0 : REGION_MISMATCH_RTT_MS;
      } else if (!located && !Number.isNaN(rtt[i]!)) {
        estimateMs = rtt[i]!;
      } else {
        estimateMs = UNKNOWN_RTT_MS;
      }
      this.#offer(i, f / (1 + estimateMs / GEO_RTT_SCALE_MS));
      if (this.#topLen === n) {
        floor = this.#topScore[n - 1]!;
        inverseFloor = 1 / floor;
      }
    }
  }

  #rankAffinity(clientHash: number): void {
    const factor = this.#factor;
    const hashMul = this.#hashMul;
    const n = this.#topN;
    const count = this.#count;
    let floor = 0;
    for (let i = 0; i < count; i++) {
      const f = factor[i]!;
      if (f <= 0) continue;
      // pairUniform(clientHash, hash[i]), inlined with its first multiply precomputed.
      let h = hashMul[i]! ^ clientHash;
      h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
      const u = (((h ^ (h >>> 16)) >>> 0) + 0.5) * INVERSE_2_POW_32;
      // Weighted rendezvous: score = w / -ln(u). Since -ln(u) > 1 - u, w / (1 - u) bounds
      // it from above, and most rows are skipped before the logarithm.
      if (f < floor * (1 - u)) continue;
      this.#offer(i, f / -Math.log(u));
      if (this.#topLen === n) floor = this.#topScore[n - 1]!;
    }
  }

  /** Inserts a row into the sorted best-n, ties broken by the peer ID hash. */
  #offer(row: number, score: number): void {
    const scores = this.#topScore;
    const rows = this.#topRow;
    const hash = this.#hash;
    const n = this.#topN;
    const len = this.#topLen;
    const h = hash[row]!;
    if (len === n) {
      const last = scores[n - 1]!;
      if (score < last || (score === last && h <= hash[rows[n - 1]!]!)) return;
    }
    let j = len === n ? n - 1 : len;
    while (j > 0) {
      const above = scores[j - 1]!;
      if (above > score || (above === score && hash[rows[j - 1]!]! >= h)) break;
      scores[j] = above;
      rows[j] = rows[j - 1]!;
      j--;
    }
    scores[j] = score;
    rows[j] = row;
    if (len < n) this.#topLen = len + 1;
  }

  #regionId(name: string): number {
    let id = this.#regionIds.get(name);
    if (id === undefined) {
      id = this.#regionIds.size;
      this.#regionIds.set(name, id);
      this.#regionSums.push(0, 0, 0, 0);
    }
    return id;
  }

  /** Adds (sign 1) or takes away (sign -1) a row's coordinates from its region's sum. */
  #addToRegion(row: number, sign: 1 | -1): void {
    const region = this.#region[row]!;
    const unit = this.#unit;
    if (region === NO_REGION || Number.isNaN(unit[row * 4]!)) return;
    const sums = this.#regionSums;
    sums[region * 4] = sums[region * 4]! + sign * unit[row * 4]!;
    sums[region * 4 + 1] = sums[region * 4 + 1]! + sign * unit[row * 4 + 1]!;
    sums[region * 4 + 2] = sums[region * 4 + 2]! + sign * unit[row * 4 + 2]!;
    sums[region * 4 + 3] = sums[region * 4 + 3]! + sign;
  }

  /** The normalised mean position of a region's relays with coordinates. */
  #regionCentre(region: number): [number, number, number] | undefined {
    const sums = this.#regionSums;
    if (sums[region * 4 + 3]! <= 0) return undefined;
    const x = sums[region * 4]!;
    const y = sums[region * 4 + 1]!;
    const z = sums[region * 4 + 2]!;
    const length = Math.hypot(x, y, z);
    return length < 1e-9 ? undefined : [x / length, y / length, z / length];
  }

  #grow(): void {
    const size = this.#factor.length * 2;
    const grow = <T extends Float64Array | Int32Array | Uint32Array>(old: T, width = 1): T => {
      const next = new (old.constructor as new (n: number) => T)(size * width);
      next.set(old);
      return next;
    };
    this.#factor = grow(this.#factor);
    this.#capacityScore = grow(this.#capacityScore);
    this.#leastScore = grow(this.#leastScore);
    this.#unit = grow(this.#unit, 4);
    this.#region = grow(this.#region);
    this.#rtt = grow(this.#rtt);
    this.#hash = grow(this.#hash);
    this.#hashMul = grow(this.#hashMul);
    this.#wrr = grow(this.#wrr);
  }
}
