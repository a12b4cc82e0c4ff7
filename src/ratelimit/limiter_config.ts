/**
 * The limiter's settings from hopd's resolved config: `[limits]` (rates, bursts, bandwidth
 * caps, table bounds), `[access]` (deny and allow lists) and the subnet prefixes of
 * `[relay]`. The limiter has no defaults of its own: `limiterConfigFrom(defaultConfig())` is
 * what it runs with out of the box.
 *
 * @example
 * ```ts
 * import { defaultConfig } from "../config/mod.ts";
 * import { limiterConfigFrom } from "./limiter_config.ts";
 * limiterConfigFrom(defaultConfig()).connectionsPerIp; // { ratePerSecond: 10, burst: 40 }
 * ```
 *
 * @module
 */

import type { ResolvedConfig } from "../config/mod.ts";
import type { BanWidthLimits } from "./ban_scope.ts";
import type { ResolvedLimiterConfig } from "./mod.ts";

/**
 * Maps hopd's config onto the limiter's.
 *
 * @param config The resolved config (`limits`, `access`, `relay`).
 * @returns The limiter config.
 */
export function limiterConfigFrom(
  config: Pick<ResolvedConfig, "limits" | "access" | "relay">,
): ResolvedLimiterConfig {
  const { limits, access, relay } = config;
  return {
    connectionsPerIp: limits.connectionsPerIp,
    connectionsPerSubnet: limits.connectionsPerSubnet,
    connectionsGlobal: limits.connectionsGlobal,
    reservationsPerPeer: limits.reservationsPerPeer,
    reservationsPerIp: limits.reservationsPerIp,
    reservationsGlobal: limits.reservationsGlobal,
    circuitsPerPeer: limits.circuitsPerPeer,
    circuitsGlobal: limits.circuitsGlobal,
    httpRequestsPerIp: limits.httpRequestsPerIp,
    bandwidth: {
      perCircuitBytesPerSecond: limits.bandwidthPerCircuitBytesPerSecond,
      perPeerBytesPerSecond: limits.bandwidthPerPeerBytesPerSecond,
      globalBytesPerSecond: limits.bandwidthGlobalBytesPerSecond,
      burstMs: limits.bandwidthBurstMs,
    },
    subnetPrefixV4: relay.subnetPrefixV4,
    subnetPrefixV6: relay.subnetPrefixV6,
    maxTrackedKeys: limits.maxTrackedKeys,
    reservationFloodRefusals: limits.reservationFloodRefusals,
    access: {
      denyPeers: access.denyPeers,
      denyCidrs: access.denyCidrs,
      allowPeers: access.allowPeers,
      allowCidrs: access.allowCidrs,
    },
  };
}

/**
 * The widest CIDR bans allowed without force (`limits.ban_prefix_min_v4`/`_v6`), for the admin
 * API and the policies' ban rail.
 *
 * @param config The resolved config.
 * @returns The limits {@linkcode banScope} takes.
 */
export function banWidthFrom(config: Pick<ResolvedConfig, "limits">): BanWidthLimits {
  return {
    prefixMinV4: config.limits.banPrefixMinV4,
    prefixMinV6: config.limits.banPrefixMinV6,
  };
}
