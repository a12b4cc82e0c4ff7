/**
 * Geography for the latency-aware ranking: coordinates as unit vectors (so the hot loop
 * needs a dot product, not trigonometry), great-circle distance, and the round-trip time a
 * distance implies.
 *
 * @module
 */

import { EARTH_RADIUS_KM, KM_PER_RTT_MS } from "./constants.ts";

/** A point on the unit sphere. */
export interface UnitVector {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

const RAD_PER_DEG = Math.PI / 180;

/**
 * Turns latitude and longitude into a unit vector.
 *
 * @param lat Latitude in degrees, -90..90.
 * @param lon Longitude in degrees, -180..180.
 * @returns The unit vector.
 */
export function toUnitVector(lat: number, lon: number): UnitVector {
  const phi = lat * RAD_PER_DEG;
  const lambda = lon * RAD_PER_DEG;
  const cosPhi = Math.cos(phi);
  return { x: cosPhi * Math.cos(lambda), y: cosPhi * Math.sin(lambda), z: Math.sin(phi) };
}

/**
 * The straight-line (chord) distance between two unit vectors whose dot product is `dot`,
 * on the unit sphere. Always at most the great-circle angle, so it gives a cheap lower
 * bound of the distance.
 */
export function chordFromDot(dot: number): number {
  const squared = 2 - 2 * dot;
  return squared > 0 ? Math.sqrt(squared) : 0;
}

/** Great-circle angle in radians for a chord length on the unit sphere. */
export function angleFromChord(chord: number): number {
  return 2 * Math.asin(Math.min(1, chord / 2));
}

/**
/** A point on the globe, in degrees. */
export interface LatLon {
  /** Latitude, -90 to 90. */
  readonly lat: number;
  /** Longitude, -180 to 180. */
  readonly lon: number;
}

/**
 * Great-circle distance between two coordinates, in kilometres.
 *
 * @example
 * ```ts
 * import { distanceKm } from "./geo.ts";
 * const paris = { lat: 48.8566, lon: 2.3522 };
 * Math.round(distanceKm(paris, { lat: 51.5074, lon: -0.1278 })); // 344 (Paris–London)
 * ```
 */
export function distanceKm(from: LatLon, to: LatLon): number {
  const a = toUnitVector(from.lat, from.lon);
  const b = toUnitVector(to.lat, to.lon);
  return angleFromChord(chordFromDot(a.x * b.x + a.y * b.y + a.z * b.z)) * EARTH_RADIUS_KM;
}

/** The round-trip time a great-circle distance implies (a lower bound), in ms. */
export function rttMsForKm(km: number): number {
  return km / KM_PER_RTT_MS;
}
