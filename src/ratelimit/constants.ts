/**
 * Defaults of the rate limiter, with units in the names. Rates are per second; a rate of 0
 * means unlimited.
 *
 * @module
 */

import type { RateSpec, ResolvedLimiterConfig } from "./mod.ts";

/** IPv4 prefix length that makes a subnet. */
export const SUBNET_PREFIX_V4 = 24;
/** IPv6 prefix length that makes a subnet. */
export const SUBNET_PREFIX_V6 = 48;
/** Most keys one keyed table tracks; past it the least recently used keys are evicted. */
export const MAX_TRACKED_KEYS = 100_000;
/** Slots a keyed table allocates first; it doubles up to its bound as keys arrive. */
export const INITIAL_TABLE_SLOTS = 1_024;
/** Slots a keyed table inspects for idle buckets on every new key (amortised sweeping). */
export const SWEEP_STEP_SLOTS = 4;
/** A peer counts as active for the bandwidth fair share this long after it last sent. */
export const BANDWIDTH_ACTIVE_WINDOW_MS = 1_000;
/** How often the shaper recounts active peers. */
export const BANDWIDTH_SCAN_INTERVAL_MS = 250;
/** Burst of a bandwidth bucket, as time at its rate. */
export const BANDWIDTH_BURST_MS = 100;
/** File name of the persisted ban list inside the data directory. */
export const BANS_FILE_NAME = "bans.json";
/** Version written into the ban list file. */
export const BANS_FILE_VERSION = 1;

function spec(ratePerSecond: number, burst: number): RateSpec {
  return { ratePerSecond, burst };
}

/**
 * The limiter's defaults: generous enough for a busy public relay, tight enough that one
 * address cannot flood it. Bandwidth is unlimited by default (flows cost nothing).
 */
export const DEFAULT_LIMITER_CONFIG: ResolvedLimiterConfig = {
  connectionsPerIp: spec(10, 40),
  connectionsPerSubnet: spec(50, 200),
  connectionsGlobal: spec(1_000, 2_000),
  reservationsPerPeer: spec(1, 10),
  reservationsPerIp: spec(5, 40),
  reservationsGlobal: spec(200, 1_000),
  circuitsPerPeer: spec(5, 20),
  circuitsGlobal: spec(1_000, 2_000),
  httpRequestsPerIp: spec(50, 200),
  bandwidth: { perCircuitBytesPerSecond: 0, perPeerBytesPerSecond: 0, globalBytesPerSecond: 0 },
  subnetPrefixV4: SUBNET_PREFIX_V4,
  subnetPrefixV6: SUBNET_PREFIX_V6,
  maxTrackedKeys: MAX_TRACKED_KEYS,
  access: { denyPeers: [], denyCidrs: [], allowPeers: [], allowCidrs: [] },
};
