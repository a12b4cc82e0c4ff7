/**
 * The balancer: a table of relay loads in, a ranking out. It answers "which relays should
 * this client use?" for the federation (`GET /v1/select`, `/hopd/select/1.0.0`) and holds no
 * sockets, timers or clocks: the federation feeds it one {@linkcode RelayEntry} per member
 * as reports arrive, and {@linkcode Balancer.select} ranks them synchronously.
 *
 * Health filters first, for every algorithm: dead and suspect members, unhealthy and
 * draining relays, relays with weight 0 and full relays (reservations or circuits at their
 * limit: they would refuse) are never returned; degraded relays have their weight
 * multiplied by {@linkcode DEGRADED_FACTOR}. Then one algorithm scores the rest (higher is
 * better; ties go to a fixed hash of the peer ID, so every member ranks alike):
 *
 * - `capacity`: weight × headroom, the smallest free fraction of reservations, circuits,
 *   bandwidth and CPU (a relay with none left on CPU or bandwidth ranks last).
 * - `least_connections`: weight / (1 + reservations + circuits).
 * - `weighted_round_robin`: smooth weighted round robin (nginx's): over consecutive
 *   selections each relay comes first in proportion to its weight, evenly spread. The
 *   ranking after the first is the order in which the others are due.
 * - `geo`: weight / (1 + rtt / {@linkcode GEO_RTT_SCALE_MS}), where rtt is estimated from the
 *   client's coordinates (or its region's relays' centre) and the relay's, from a region
 *   match, or, when the client gave no location at all, from this relay's ping RTT to each.
 * - `affinity`: weighted rendezvous hashing on the client's peer ID: the same client gets the
 *   same relay for as long as that relay passes the health filter, and adding or removing
 *   other relays moves no client whose relay is unaffected. Without a peer ID it falls back
 *   to `capacity` (the selection says so).
 *
 * The plugin scoring hook is applied after this, by the federation's async wrapper.
 *
 * @example
 * ```ts
 * import { createBalancer } from "./mod.ts";
 * const balancer = createBalancer({ algorithm: "least_connections" });
 * const entry = (peerId: string, reservations: number) => ({
 *   peerId, addrs: [], state: "alive" as const, verdict: "healthy" as const, draining: false,
 *   weight: 1, capacity: { maxReservations: 100, maxCircuits: 100, bandwidthBytesPerSecond: 0 },
 *   load: { reservations, circuits: 0, bytesPerSecondIn: 0, bytesPerSecondOut: 0, cpu: 0, memoryBytes: 0 },
 * });
 * balancer.upsert(entry("relay-a", 40));
 * balancer.upsert(entry("relay-b", 10));
 * balancer.select({ n: 2 }).relays.map((r) => r.peerId); // ["relay-b", "relay-a"]
 * ```
 *
 * @module
 */

import { BALANCER_ALGORITHMS } from "../config/mod.ts";
import { Balancer } from "./balancer.ts";

export { Balancer } from "./balancer.ts";
export { RegionMap } from "./region_map.ts";
export type { RegionCidr } from "./region_map.ts";
export { distanceKm } from "./geo.ts";
export type { LatLon } from "./geo.ts";
export {
  DEFAULT_SELECT_COUNT,
  DEGRADED_FACTOR,
  GEO_RTT_SCALE_MS,
  MAX_SELECT_COUNT,
} from "./constants.ts";

/**
 * Ranking algorithms, by the name used in config, `?algorithm=` and metrics (the list lives
 * in the config schema, where `federation.algorithm` is validated against it).
 */
export const ALGORITHMS: typeof BALANCER_ALGORITHMS = BALANCER_ALGORITHMS;
/** A ranking algorithm. */
export type Algorithm = typeof ALGORITHMS[number];

/**
 * Health verdicts, best to worst: the policy engine judges with them, the federation's
 * reports carry them (their index is the wire code, so the list only ever grows at the end),
 * and the index is `hopd_health_status`.
 */
export const VERDICTS = ["healthy", "degraded", "unhealthy"] as const;
/** A relay's health verdict. */
export type Verdict = typeof VERDICTS[number];

/** Member states of the federation's view. */
export const MEMBER_STATES = ["alive", "suspect", "dead"] as const;
/** A member's state: reporting, silent for a while (or disconnected), or gone. */
export type MemberState = typeof MEMBER_STATES[number];

/** What a relay can take; 0 = unlimited or unknown (that dimension is then not scored). */
export interface RelayCapacity {
  /** Most reservations it holds at once. */
  readonly maxReservations: number;
  /** Most circuits it carries at once. */
  readonly maxCircuits: number;
  /** Relayed bytes per second, both directions summed. */
  readonly bandwidthBytesPerSecond: number;
}

/** What a relay carries now. */
export interface RelayLoad {
  /** Reservations held now. */
  readonly reservations: number;
  /** Circuits open now. */
  readonly circuits: number;
  /** Relayed bytes per second, circuit initiator to target. */
  readonly bytesPerSecondIn: number;
  /** Relayed bytes per second, target back to initiator. */
  readonly bytesPerSecondOut: number;
  /** CPU used by the relay process, as a fraction of one core (1 = one core busy). */
  readonly cpu: number;
  /** Resident memory of the relay process, in bytes. */
  readonly memoryBytes: number;
}

/** One relay as the balancer sees it. */
export interface RelayEntry {
  /** The relay's peer ID. */
  readonly peerId: string;
  /** Multiaddrs clients dial, with /p2p/<peer id>. */
  readonly addrs: readonly string[];
  /** Its state in the federation's view: only `alive` relays are ranked. */
  readonly state: MemberState;
  /** Its health verdict: `unhealthy` relays are not ranked, `degraded` ones score lower. */
  readonly verdict: Verdict;
  /** A draining relay takes no new clients and is not ranked. */
  readonly draining: boolean;
  /** Operator weight (0 = send no new clients); 1 is neutral. */
  readonly weight: number;
  /** Its region (`federation.region`), for the geo algorithm. */
  readonly region?: string;
  /** Latitude in degrees; set together with `lon`. */
  readonly lat?: number;
  /** Longitude in degrees; set together with `lat`. */
  readonly lon?: number;
  /** What it can take. */
  readonly capacity: RelayCapacity;
  /** What it carries now. */
  readonly load: RelayLoad;
  /** Round-trip time from the relay answering the selection, in ms (itself: 0). */
  readonly rttMs?: number;
}

/** What the client tells about itself. Every field is optional. */
export interface SelectHints {
  /** The client's peer ID: the key of `affinity`. */
  readonly peer?: string;
  /** The client's region (from the caller, or the CIDR map). */
  readonly region?: string;
  /** The client's latitude in degrees; used with `lon`. */
  readonly lat?: number;
  /** The client's longitude in degrees; used with `lat`. */
  readonly lon?: number;
  /** How many relays to return. @default 3, at most 32 */
  readonly n?: number;
  /** The algorithm; the balancer's default when absent. */
  readonly algorithm?: Algorithm;
}

/** One relay of a ranking. */
export interface RankedRelay {
  /** The relay's peer ID. */
  readonly peerId: string;
  /** Multiaddrs to dial it at, with /p2p/<peer id>. */
  readonly addrs: readonly string[];
  /** The algorithm's score (higher is better; comparable only within one selection). */
  readonly score: number;
  /** Its region, when it declared one. */
  readonly region?: string;
}

/** A ranking, best first. */
export interface Selection {
  /** The algorithm that ranked (affinity without a peer ID reports `capacity`). */
  readonly algorithm: Algorithm;
  /** The relays, best first; at most the `n` asked for. */
  readonly relays: readonly RankedRelay[];
}

/** How a balancer is built. */
export interface BalancerInit {
  /** Algorithm used when a selection names none. @default "capacity" */
  readonly algorithm?: Algorithm;
}

/**
 * Creates an empty balancer.
 *
 * @param init The default algorithm.
 * @returns The balancer.
 */
export function createBalancer(init: BalancerInit = {}): Balancer {
  return new Balancer(init.algorithm ?? "capacity");
}
