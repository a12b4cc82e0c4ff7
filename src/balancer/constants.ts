/**
 * Defaults and physical constants of the balancer, with units in the names.
 *
 * @module
 */

/** Relays returned by a selection when the caller does not say. */
export const DEFAULT_SELECT_COUNT = 3;
/** Most relays one selection returns. */
export const MAX_SELECT_COUNT = 32;
/** Score factor of a relay whose health verdict is "degraded" (healthy = 1, unhealthy = 0). */
export const DEGRADED_FACTOR = 0.5;
/** Mean radius of the Earth, in kilometres. */
export const EARTH_RADIUS_KM = 6_371;
/**
 * Kilometres of great-circle distance per millisecond of round-trip time: light in fibre
 * covers about 200 km per ms one way, so 100 km per ms there and back (routes are longer
 * than great circles, so this is a lower bound of the real RTT).
 */
export const KM_PER_RTT_MS = 100;
/** Estimated RTT to a relay in another region when neither side has coordinates. */
export const REGION_MISMATCH_RTT_MS = 100;
/** Estimated RTT to a relay about which nothing is known (no coordinates, region or ping). */
export const UNKNOWN_RTT_MS = 200;
/**
 * RTT at which the geographic score halves: score = factor / (1 + rtt / scale). Small
 * enough that a nearer relay wins over a farther one of equal health and weight, large
 * enough that a relay a few ms farther but weighted 2x can still win.
 */
export const GEO_RTT_SCALE_MS = 20;
