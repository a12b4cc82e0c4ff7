/**
 * The snapshot's `limits` section: what the node is configured to hold and carry, read from the
 * resolved config so that no policy copies a config value into its source.
 *
 * @module
 */

import { defaultConfig, type ResolvedConfig } from "../config/mod.ts";
import type { SnapshotLimits } from "./types.ts";

/**
 * The limits of a node running `config`.
 *
 * @param config The config the node runs with.
 * @param memoryMaxBytes The process's memory budget (its cgroup's `memory.max`; 0 = none).
 * @returns The snapshot's `limits` section.
 * @example
 * ```ts
 * import { defaultConfig } from "../config/mod.ts";
 * import { snapshotLimits } from "./snapshot_limits.ts";
 * snapshotLimits(defaultConfig(), 0).maxReservations; // relay.max_reservations
 * ```
 */
export function snapshotLimits(config: ResolvedConfig, memoryMaxBytes: number): SnapshotLimits {
  return {
    maxReservations: config.relay.maxReservations,
    maxCircuits: config.relay.maxCircuits,
    maxConnections: config.connections.maxConnections,
    bandwidthGlobalBytesPerSecond: config.limits.bandwidthGlobalBytesPerSecond,
    bandwidthPerPeerBytesPerSecond: config.limits.bandwidthPerPeerBytesPerSecond,
    bandwidthPerCircuitBytesPerSecond: config.limits.bandwidthPerCircuitBytesPerSecond,
    capacityBandwidthBytesPerSecond: config.federation.bandwidthBytesPerSecond,
    memoryMaxBytes,
  };
}

let defaults: SnapshotLimits | undefined;

/** The limits of a node running the default config, without a memory budget. */
export function defaultSnapshotLimits(): SnapshotLimits {
  defaults ??= snapshotLimits(defaultConfig(), 0);
  return defaults;
}
