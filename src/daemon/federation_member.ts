/**
 * The federation as the daemon runs it: the federation service with this relay's live load
 * (relay counts, sampled rates, the policy engine's verdict, the drain flag), the host's
 * ping for RTTs, the HTTP limiter for /hopd/select/1.0.0, the plugins' score hook, and the
 * log of alternatives when the relay refuses a reservation for capacity or draining.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Verdict } from "../balancer/mod.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import { type Federation, federation, type ScoreHook } from "../federation/mod.ts";
import { REFUSAL_LOG_INTERVAL_MS } from "../federation/constants.ts";
import type { Host } from "../host/mod.ts";
import type { Limiter } from "../ratelimit/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { LoadSampler } from "./load_sampler.ts";
import { RefusalLogger } from "./refusal_logger.ts";

/** What the federation member reads from the daemon. */
export interface FederationMemberSources {
  readonly host: Host;
  readonly relay: Relay;
  readonly registry: MetricsRegistry;
  readonly limiter: Limiter;
  /** The node's health verdict (the policy engine's; "healthy" without one). */
  verdict(): Verdict;
  /** Whether the node drains (admin, policy or shutdown). */
  draining(): boolean;
  /** The plugins' score hook, when the policy engine runs. */
  readonly scoreHook?: ScoreHook;
  /** The daemon's clock, for the federation, its sampler and its refusal log. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/** The federation with its sampler and refusal log. */
export interface FederationMember {
  readonly federation: Federation;
  /** Tells the member a reservation was refused (logs alternatives, rate limited). */
  refused(peer: string, reason: string): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds the federation member of a node.
 *
 * @param config The node's config (`federation`, `relay`).
 * @param sources Live state.
 * @returns The member (not started).
 * @throws {RangeError} When a `federation.cidr_regions` entry does not parse.
 * @throws {TypeError} When the host runs no gossipsub.
 */
export function federationMember(
  config: ResolvedConfig,
  sources: FederationMemberSources,
): FederationMember {
  const { host, relay, registry, limiter } = sources;
  if (host.pubsub === undefined) {
    throw new TypeError("Cannot run the federation on a host built without gossipsub");
  }
  const clock = sources.clock ?? SYSTEM_CLOCK;
  const sampler = new LoadSampler({ registry, relay, clock });
  const service = federation(config.federation)({
    libp2p: host.libp2p,
    pubsub: host.pubsub,
    registry,
    clock,
    relayCapacity: {
      maxReservations: config.relay.maxReservations,
      maxCircuits: config.relay.maxCircuits,
    },
    local: () => {
      const stats = relay.stats();
      return {
        ...sampler.current(),
        reservations: stats.reservations,
        circuits: stats.circuits,
        verdict: sources.verdict(),
        draining: sources.draining(),
      };
    },
    ping: (peerId, signal) => host.ping(peerId, signal),
    selectAdmission: (ip) => ip === undefined || limiter.checkHttp(ip).ok,
    ...(sources.scoreHook === undefined ? {} : { scoreHook: sources.scoreHook }),
  });
  const refusals = new RefusalLogger({
    alternatives: (peer) => service.alternatives(peer),
    intervalMs: REFUSAL_LOG_INTERVAL_MS,
    clock,
  });
  return {
    federation: service,
    refused: (peer, reason) => void refusals.refused(peer, reason),
    async start() {
      sampler.start(config.federation.intervalMs);
      await service.start();
    },
    async stop() {
      sampler.stop();
      await service.stop();
    },
  };
}
