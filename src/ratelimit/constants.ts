/**
 * Internal (not configurable) constants of the rate limiter, with units in the names. Every
 * configurable default (rates, bursts, prefixes, table bounds) is in the config schema
 * (`[limits]`, `[access]`, `[relay]` in src/config/schema.ts).
 *
 * @module
 */

/** Slots a keyed table allocates first; it doubles up to its bound as keys arrive. */
export const INITIAL_TABLE_SLOTS = 1_024;
/** Slots a keyed table inspects for idle buckets on every new key (amortised sweeping). */
export const SWEEP_STEP_SLOTS = 4;
/** A peer counts as active for the bandwidth fair share this long after it last sent. */
export const BANDWIDTH_ACTIVE_WINDOW_MS = 1_000;
/** How often the shaper recounts active peers. */
export const BANDWIDTH_SCAN_INTERVAL_MS = 250;
/**
 * Smallest bandwidth bucket, in bytes: the relay's shaping piece (its 16 KiB quantum), so a
 * slow cap or a small fair share still grants whole pieces instead of many tiny ones.
 */
export const BANDWIDTH_MIN_BURST_BYTES = 16_384;
/**
 * The window of the reservation flood gate: `limits.reservation_flood_refusals` RESERVE
 * refusals (per-IP rate) within it make an IP flooding, and it stays so until a whole window
 * passes without one.
 */
export const RESERVATION_FLOOD_WINDOW_MS = 10_000;
/** File name of the persisted ban list inside the data directory. */
export const BANS_FILE_NAME = "bans.json";
/** Version written into the ban list file. */
export const BANS_FILE_VERSION = 1;
