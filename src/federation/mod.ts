/**
 * The federation: hopd relays that know each other's load and send each client to the best
 * one. Every member publishes a signed load report on a gossipsub topic each interval (and
 * at once when it starts or ends a drain, or changes weight); every member validates what
 * it receives (allowlist, replay, staleness), keeps a {@linkcode MemberView} with
 * suspect/dead ageing, feeds a {@linkcode Balancer} and answers "which relay should this
 * client use?" over HTTP (`GET /v1/select`, in `src/ops/`) and libp2p (`/hopd/select/1.0.0`).
 *
 * Flow: `local()` (the daemon's live load) → report → the host's pubsub (gossipsub,
 * StrictSign) → topic validator on each member → view → balancer → selection → scoring hook
 * (plugins) → client.
 * Members keep connections to each other ({@linkcode MemberDialer}: backoff with jitter),
 * are pinged for their RTT, and gossipsub's mesh carries the reports (no consensus of our
 * own: each member ranks from its own view, and the views converge within an interval).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
 * import { peerIdFromPrivateKey } from "@libp2p/peer-id";
 * import { MetricsRegistry } from "../metrics/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import { createHost } from "../host/mod.ts";
 * import { federation, federationPubSub } from "./mod.ts";
 * const config = defaultConfig();
 * const privateKey = await generateKeyPair("Ed25519");
 * const self = peerIdFromPrivateKey(privateKey).toString();
 * const host = await createHost({
 *   ...config,
 *   node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
 *   privateKeyProtobuf: privateKeyToProtobuf(privateKey),
 *   pubsub: federationPubSub(config.federation, self),
 * });
 * await host.start();
 * const service = federation({ ...config.federation, enabled: true, members: [self] })({
 *   libp2p: host.libp2p,
 *   pubsub: host.pubsub!,
 *   registry: new MetricsRegistry(),
 *   local: () => ({
 *     reservations: 0,
 *     circuits: 0,
 *     bytesPerSecondIn: 0,
 *     bytesPerSecondOut: 0,
 *     cpu: 0.05,
 *     memoryBytes: 100_000_000,
 *     verdict: "healthy",
 *     draining: false,
 *   }),
 *   relayCapacity: { maxReservations: 1000, maxCircuits: 1000 },
 * });
 * await service.start();
 * const { relays } = await service.select({ n: 3 }); // this relay, the only member
 * assert.deepEqual(relays.map((relay) => relay.peerId), [self]);
 * await service.stop();
 * await host.stop();
 * ```
 *
 * @module
 */

import type { Clock } from "../clock/mod.ts";
import type { Libp2p } from "@libp2p/interface";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { RankedRelay, RelayLoad, SelectHints, Selection, Verdict } from "../balancer/mod.ts";
import type { ResolvedFederationConfig } from "../config/mod.ts";
import type { PubSub, PubSubInit } from "../host/mod.ts";
import { FederationService } from "./federation_service.ts";
import { pubSubSettings } from "./pub_sub_settings.ts";
import type { MemberCounts } from "./member_view.ts";
import type { ScoreHook } from "./score_hook.ts";

export { SELECT_PROTOCOL } from "./constants.ts";
export { parseSelectHints } from "./select_hints.ts";
export type { SelectRequestInput } from "./select_hints.ts";
export type { ScoreHook, SelectCandidate } from "./score_hook.ts";
export type { MemberCounts } from "./member_view.ts";

/** The config the federation uses: `[federation]` as the loader resolves it. */
export type { ResolvedFederationConfig };

/** This relay's live load, read by the federation each interval and on `announceNow()`. */
export interface LocalLoad extends RelayLoad {
  /** The policy engine's verdict ("healthy" when none runs). */
  readonly verdict: Verdict;
  /** True while the relay drains: it takes no new clients. */
  readonly draining: boolean;
}

/** A selection request: the client's hints and, when known, its IP (for the CIDR map). */
export interface SelectRequest extends SelectHints {
  /** The client's IP, for `federation.cidr_regions` when it names no region. */
  readonly ip?: string;
}

/** One member in `GET /v1/federation`. */
export interface FederationMemberView {
  /** The member's peer ID. */
  readonly peerId: string;
  /** Its state in this node's view. */
  readonly state: "alive" | "suspect" | "dead";
  /** True for this node itself. */
  readonly self: boolean;
  /** Time since its last report reached this node, in ms. */
  readonly lastReportAgeMs: number;
  /** The multiaddrs it announces, with /p2p/<peer id>. */
  readonly addrs: readonly string[];
  /** Its region, when it declared one. */
  readonly region?: string;
  /** Its latitude in degrees, when it declared coordinates. */
  readonly lat?: number;
  /** Its longitude in degrees, when it declared coordinates. */
  readonly lon?: number;
  /** True while it drains. */
  readonly draining: boolean;
  /** Its health verdict, as it reported it. */
  readonly verdict: Verdict;
  /** Its operator weight (0 = no new clients; 1 is neutral). */
  readonly weight: number;
  /** True while this node holds a connection to it. */
  readonly connected: boolean;
  /** What it can take (0 = unlimited); bandwidth absent when it declared none. */
  readonly capacity: {
    readonly maxReservations: number;
    readonly maxCircuits: number;
    readonly bandwidthBytesPerSecond?: number;
  };
  /**
   * What it carried at its last report: bytes per second, CPU as a fraction of one core, memory in
   * bytes.
   */
  readonly load: {
    readonly reservations: number;
    readonly circuits: number;
    readonly bytesPerSecondIn: number;
    readonly bytesPerSecondOut: number;
    readonly cpu: number;
    readonly memoryBytes: number;
  };
  /** Round-trip time of this node's last ping to it, in ms. */
  readonly rttMs?: number;
}

/** `GET /v1/federation`. */
export interface FederationView {
  /** `federation.enabled`. */
  readonly enabled: boolean;
  /** This node's peer ID. */
  readonly self: string;
  /** The gossipsub topic of the load reports. */
  readonly topic: string;
  /** Every member this node knows, itself included. */
  readonly members: readonly FederationMemberView[];
}

/** The federation in the policy snapshot. */
export interface FederationSummary {
  /** `federation.enabled`. */
  readonly enabled: boolean;
  /** Members by state. */
  readonly members: MemberCounts;
  /** Members this node holds a connection to. */
  readonly connectedMembers: number;
  /** Age of the oldest report among the other live members, in ms; absent when there is none. */
  readonly oldestReportAgeMs?: number;
}

/** What the federation needs from the daemon. */
export interface FederationComponents {
  /** The host (dials, connection events, the select protocol, pings). */
  readonly libp2p: Libp2p;
  /** The host's pubsub, run with the settings of {@linkcode federationPubSub}. */
  readonly pubsub: PubSub;
  /** Where the federation's metrics are registered. */
  readonly registry: MetricsRegistry;
  /** This relay's live load. */
  readonly local: () => LocalLoad;
  /** The relay's limits (0 = unlimited). */
  readonly relayCapacity: { readonly maxReservations: number; readonly maxCircuits: number };
  /** Pings a peer, resolving with the RTT in ms; absent = no RTT. */
  readonly ping?: (peerId: string, signal: AbortSignal) => Promise<number>;
  /** The plugin scoring hook; absent = rankings as the balancer made them. */
  readonly scoreHook?: ScoreHook;
  /** Rate limit of `/hopd/select/1.0.0` per caller IP; absent = none. */
  readonly selectAdmission?: (ip: string | undefined) => boolean;
  /**
   * Report send times and ages, member states, publish and view timers, dial backoff, RTT
   * probe, select stream and scoring hook timeouts. @default SYSTEM_CLOCK
   */
  readonly clock?: Clock;
}

/** A running federation member. */
export interface Federation {
  /** Subscribes to the topic, dials the bootstrap members and starts publishing every interval. */
  start(): Promise<void>;
  /** Tells the members we leave (a last report), then stops. */
  stop(): Promise<void>;
  /** Publishes a report now (a drain or weight change must not wait for the interval). */
  announceNow(): void;
  /** Sets this relay's weight (policy action `setWeight`) and announces it. */
  setWeight(weight: number): void;
  /** This relay's current weight. */
  weight(): number;
  /** The counts the policy snapshot carries. */
  summary(): FederationSummary;
  /** Every member as `GET /v1/federation` shows it. */
  view(): FederationView;
  /** Ranks relays for a client, the scoring hook applied; counted by algorithm. */
  select(request: SelectRequest): Promise<Selection>;
  /** The best other relays for a client this relay refused (no hook, not counted). */
  alternatives(peer: string, n?: number): RankedRelay[];
}

/**
 * Creates the federation factory.
 *
 * @param config Resolved `[federation]` config.
 * @returns A factory taking the host, its pubsub and the local load.
 * @throws {RangeError} When a `cidr_regions` entry does not parse.
 */
export function federation(
  config: ResolvedFederationConfig,
): (components: FederationComponents) => Federation {
  return (components) => new FederationService(config, components);
}

/**
 * The gossip settings a federation member's host runs gossipsub with (`HostInit.pubsub`,
 * src/host; `pubSubSettings` in pub_sub_settings.ts: only the federation topic, flood publish
 * over a tiny mesh and no gossip, reports capped in size, non-members scored below the publish
 * threshold, no IP colocation penalty). The host loads gossipsub's code only when given them,
 * so a node without `[federation]` never holds it.
 *
 * @param config Resolved `[federation]` config.
 * @param self This node's peer ID, as text.
 * @returns The settings, for `createHost({ pubsub })`.
 */
export function federationPubSub(config: ResolvedFederationConfig, self: string): PubSubInit {
  return pubSubSettings(config, self);
}
