/**
 * hopd's rate limiter: admission checks for connections, peers, reservations, circuits and
 * ops HTTP requests; bans and access lists; and fair bandwidth shaping for relayed bytes.
 * A pure library below the relay: no sockets, no libp2p; time comes from an injected
 * {@linkcode Clock} (src/clock), files from an injected {@linkcode BanFs}.
 *
 * Flow: the connection gater calls `checkConnection(ip)` on accept and `checkPeer(peerId,
 * ip)` after the handshake; the relay calls `checkReservation` on RESERVE and `checkCircuit`
 * on CONNECT, and opens a {@linkcode Flow} per circuit direction with `openFlow`; the ops
 * server calls `checkHttp(ip)`. Each check runs deny list and bans first (`"denied"`,
 * `"banned"`), lets allowlisted peers and IPs through, then takes one token from each bucket
 * narrowest first (per IP, per subnet or per peer, then global), giving tokens back if a
 * later bucket refuses. Checks return status values and never throw.
 *
 * Runtime control (policy engine, admin API): {@linkcode Limiter.setThrottle} scales every
 * rate and bandwidth cap, {@linkcode Limiter.setLimit} changes one named limit (see
 * {@linkcode LIMIT_KEYS}), {@linkcode Limiter.reload} applies a new config keeping bucket
 * state. Metrics are counted in plain numbers and published when the registry is scraped.
 *
 * @example
 * ```ts
 * import { SYSTEM_CLOCK as clock } from "../clock/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import { BanList, createLimiter, limiterConfigFrom } from "./mod.ts";
 * const config = limiterConfigFrom(defaultConfig());
 * const limiter = createLimiter(config, { clock, bans: new BanList({ clock }) });
 * const verdict = limiter.checkConnection("192.0.2.1");
 * if (!verdict.ok) console.log(verdict.reason, verdict.retryAfterMs);
 * ```
 *
 * @module
 */

import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Clock } from "../clock/mod.ts";
import type { AccessListConfig } from "./access_list.ts";
import type { BandwidthCaps, BandwidthShaper, Flow } from "./bandwidth_shaper.ts";
import type { BanList } from "./ban_list.ts";
import { RateLimiter } from "./limiter.ts";
import type { LimitKey } from "./limit_keys.ts";

export { banWidthFrom, limiterConfigFrom } from "./limiter_config.ts";
export { LIMIT_KEYS, validateLimiterConfig } from "./limit_keys.ts";
export type { LimitKey } from "./limit_keys.ts";
export { TokenBucket } from "./token_bucket.ts";
export { KeyedLimiter } from "./keyed_limiter.ts";
export type { KeyedLimiterInit, LimiterKey } from "./keyed_limiter.ts";
export { CidrSet, parseCidr } from "./cidr_set.ts";
export type { Cidr } from "./cidr_set.ts";
export { BanList } from "./ban_list.ts";
export type {
  Ban,
  BanEvent,
  BanInit,
  BanKind,
  BanListComponents,
  BanLoadResult,
  BanSaveResult,
} from "./ban_list.ts";
export { banScope } from "./ban_scope.ts";
export type { BanScope, BanWidthLimits } from "./ban_scope.ts";
export { denoBanFs } from "./ban_fs.ts";
export type { BanFs } from "./ban_fs.ts";
export { AccessList } from "./access_list.ts";
export type { AccessListConfig } from "./access_list.ts";
export { BandwidthShaper, UNLIMITED_FLOW } from "./bandwidth_shaper.ts";
export type { BandwidthCaps, Flow } from "./bandwidth_shaper.ts";

/** A token rate: `ratePerSecond` refill, `burst` bucket size. Rate 0 = unlimited. */
export interface RateSpec {
  /** Tokens per second; fractions allowed (0.1 = one per 10 s); 0 = unlimited. */
  readonly ratePerSecond: number;
  /** Bucket size; 0 = one second's worth of rate (at least 1). */
  readonly burst: number;
}

/**
 * The limiter settings the code uses: complete and in base units. Every rate spec counts
 * one token per event; every limit of 0 means unlimited. Built from hopd's config by
 * {@linkcode limiterConfigFrom} (the defaults are the config schema's).
 */
export interface ResolvedLimiterConfig {
  /** New inbound connections per remote IP. */
  readonly connectionsPerIp: RateSpec;
  /** New inbound connections per remote subnet. */
  readonly connectionsPerSubnet: RateSpec;
  /** New inbound connections in total. */
  readonly connectionsGlobal: RateSpec;
  /** RESERVE requests per peer. */
  readonly reservationsPerPeer: RateSpec;
  /** RESERVE requests per remote IP. */
  readonly reservationsPerIp: RateSpec;
  /** RESERVE requests in total. */
  readonly reservationsGlobal: RateSpec;
  /** CONNECT requests per source peer. */
  readonly circuitsPerPeer: RateSpec;
  /** CONNECT requests in total. */
  readonly circuitsGlobal: RateSpec;
  /** Ops HTTP requests per remote IP. */
  readonly httpRequestsPerIp: RateSpec;
  /** Relayed bytes per second; all 0 = unshaped, flows cost nothing. */
  readonly bandwidth: BandwidthCaps;
  /** IPv4 prefix length of a subnet (0..32). */
  readonly subnetPrefixV4: number;
  /** IPv6 prefix length of a subnet (0..128). */
  readonly subnetPrefixV6: number;
  /** Most keys each per-IP, per-subnet or per-peer table tracks. */
  readonly maxTrackedKeys: number;
  /**
   * RESERVE refusals for the per-IP rate within RESERVATION_FLOOD_WINDOW_MS after which an IP
   * is flooding: until the window passes without such a refusal, `checkConnection` takes one
   * of the IP's reservation tokens for each new connection (refusing with
   * `"reservation_quota"` when none is left) and the connection's RESERVE uses it. 0 = off.
   */
  readonly reservationFloodRefusals: number;
  /** Deny and allow lists (allowlisted peers and IPs skip rates and bandwidth caps). */
  readonly access: AccessListConfig;
}

/** What the limiter needs from the daemon. */
export interface LimiterComponents {
  /** Wall clock in ms (the same one the ban list uses). */
  readonly clock: Clock;
  /** Registry for the limiter's metrics; none = no metrics. One limiter per registry. */
  readonly registry?: MetricsRegistry;
  /** Bans, consulted first by every check. */
  readonly bans: BanList;
}

/** Why a check refused. */
export type RefusalReason =
  | "banned"
  | "denied"
  | "rate_ip"
  | "rate_subnet"
  | "rate_peer"
  | "rate_global"
  | "reservation_quota";

/** The answer of a check. `retryAfterMs` is set for rate refusals. */
export type CheckResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: RefusalReason; readonly retryAfterMs?: number };

/** Label values of `hopd_rate_limited_total{limiter}`. */
export type LimiterName = "connection" | "peer" | "reservation" | "circuit" | "http";

/**
 * The rate limiter facade. Every check reads the clock once, never throws and allocates only
 * when it refuses; text that is not an IP is treated as an opaque address (never banned by
 * CIDR, its own IP and subnet key).
 */
export interface Limiter {
  /**
   * Admission of a new inbound connection, before the handshake (the gater's
   * `denyInboundConnection`): ban and deny on the IP, then per-IP, per-subnet and global
   * connection rates (allowlisted IPs skip the rates); then, from an IP that is flooding
   * RESERVE requests (see `reservationFloodRefusals`), one of its reservation tokens.
   *
   * @param ip Remote IP (IPv4, IPv6 or IPv4-mapped IPv6 text).
   * @returns `{ ok: true }` or the refusal.
   */
  checkConnection(ip: string): CheckResult;
  /**
   * Admission of a peer once its ID is known (after the handshake): bans and deny lists on
   * the peer and the IP; no rates.
   *
   * @param peerId Remote peer ID text.
   * @param ip Remote IP, if known.
   */
  checkPeer(peerId: string, ip?: string): CheckResult;
  /**
   * Admission of a RESERVE: bans and deny, then per-peer, per-IP and global reservation
   * rates (allowlisted peers and IPs skip the rates).
   *
   * @param peerId Reserving peer.
   * @param ip Its IP, if known (without it the per-IP rate is skipped).
   */
  checkReservation(peerId: string, ip?: string): CheckResult;
  /**
   * Admission of a CONNECT: bans and deny on the source peer, its IP and the destination
   * peer, then per-source-peer and global circuit rates (an allowlisted source skips them).
   *
   * @param srcPeerId Peer asking for the circuit.
   * @param ip Its IP, if known.
   * @param dstPeerId Reserved peer it wants to reach.
   */
  checkCircuit(srcPeerId: string, ip: string | undefined, dstPeerId: string): CheckResult;
  /**
   * Admission of an ops HTTP request: ban and deny on the IP, then the per-IP rate. An
   * operator (on loopback, or holding the admin token) is never refused for a ban or the
   * deny list: no ban can lock the operator out of the admin API; the rate still applies.
   *
   * @param ip Client IP.
   * @param caller Whether the caller is the operator. @default { operator: false }
   */
  checkHttp(ip: string, caller?: { readonly operator: boolean }): CheckResult;
  /** Whether the peer or IP is allowlisted (and not denied). */
  isAllowlisted(peerId?: string, ip?: string): boolean;
  /**
   * A bandwidth flow for one direction of a circuit of `peerId`; unlimited for allowlisted
   * peers and when no cap is set.
   */
  openFlow(peerId: string, ip?: string): Flow;
  /** The bandwidth shaper. */
  readonly shaper: BandwidthShaper;
  /** The ban list checks consult. */
  readonly bans: BanList;
  /**
   * Scales every rate, burst and bandwidth cap by `factor` (0 < factor ≤ 1), for `forMs`
   * (then back to 1) or until changed.
   *
   * @throws {RangeError} A factor outside (0, 1] or a bad duration.
   */
  setThrottle(factor: number, forMs?: number): void;
  /** The throttle factor in force (1 = none). */
  throttleFactor(): number;
  /**
   * Sets one named limit (see {@linkcode LIMIT_KEYS}); kept until the next `reload`.
   *
   * @throws {RangeError} An unknown key or a bad value.
   */
  setLimit(key: string, value: number): void;
  /** Every named limit with its configured value (before the throttle factor). */
  limits(): Record<LimitKey, number>;
  /**
   * Applies a new config: limits, access lists, subnet prefixes and the key bound. Bucket
   * state of keys that persist is kept; `setLimit` changes are replaced; the throttle stays.
   *
   * @throws {RangeError} A bad value, naming it; the old config then stays in force.
   */
  reload(config: ResolvedLimiterConfig): void;
  /**
   * Drops idle buckets in every table and expired bans, and tries a failed save of the bans
   * again (for a periodic timer); returns how many buckets were dropped.
   */
  sweep(): number;
  /** Keys tracked per table, by table name. */
  trackedKeys(): Record<string, number>;
}

/**
 * Creates the limiter.
 *
 * @param config Resolved settings (see {@linkcode limiterConfigFrom}).
 * @param components Clock, bans and optional registry.
 * @returns The limiter.
 * @throws {RangeError} A bad config value, naming it.
 */
export function createLimiter(
  config: ResolvedLimiterConfig,
  components: LimiterComponents,
): Limiter {
  return new RateLimiter(config, components);
}
