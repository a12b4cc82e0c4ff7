/**
 * The limiter facade behind {@linkcode createLimiter}: the tables, the check order, the
 * throttle and the named limits. See mod.ts for the flow.
 *
 * @module
 */

import { networkKey, parseIp } from "../ip/mod.ts";
import { effectiveBurst } from "./_rate.ts";
import type { AccessList } from "./access_list.ts";
import { BandwidthShaper, type Flow, UNLIMITED_FLOW } from "./bandwidth_shaper.ts";
import type { BanList } from "./ban_list.ts";
import { KeyedLimiter, type LimiterKey } from "./keyed_limiter.ts";
import { REFUSAL_REASONS, registerLimiterMetrics } from "./metrics.ts";
import type {
  CheckResult,
  Limiter,
  LimiterComponents,
  RefusalReason,
  ResolvedLimiterConfig,
} from "./mod.ts";
import {
  type LimitKey,
  limitsOf,
  type SpecField,
  validateLimiterConfig,
  withLimit,
} from "./limit_keys.ts";
import { TokenBucket } from "./token_bucket.ts";
import type { Clock } from "../clock/mod.ts";
import { RESERVATION_FLOOD_WINDOW_MS } from "./constants.ts";

const OK: CheckResult = Object.freeze({ ok: true });
const L_CONNECTION = 0;
const L_PEER = 1;
const L_RESERVATION = 2;
const L_CIRCUIT = 3;
const L_HTTP = 4;
const REASON_INDEX: Record<RefusalReason, number> = {
  banned: 0,
  denied: 1,
  rate_ip: 2,
  rate_subnet: 3,
  rate_peer: 4,
  rate_global: 5,
  reservation_quota: 6,
};

/** IPv4-mapped IPv6 text counts as its IPv4 address. */
function ipKey(ip: string): string {
  return ip.charCodeAt(0) === 58 && ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/** The {@linkcode Limiter} implementation. */
export class RateLimiter implements Limiter {
  readonly shaper: BandwidthShaper;
  readonly bans: BanList;
  #clock: Clock;
  #config: ResolvedLimiterConfig;
  #access: AccessList;
  #factor = 1;
  #throttleUntilMs = Infinity;
  #refusals = new Float64Array(5 * REFUSAL_REASONS.length);
  #connIp: KeyedLimiter;
  #connSubnet: KeyedLimiter;
  #connGlobal: TokenBucket;
  #resPeer: KeyedLimiter;
  #resIp: KeyedLimiter;
  #resGlobal: TokenBucket;
  #circPeer: KeyedLimiter;
  #circGlobal: TokenBucket;
  #httpIp: KeyedLimiter;
  // The reservation flood gate (see ResolvedLimiterConfig.reservationFloodRefusals): per IP,
  // the RESERVE refusals it may still have before it is flooding; until when each flooding
  // IP is so; and the reservation tokens its accepted connections paid and have not used.
  #resFloodStrikes: KeyedLimiter;
  #floodingUntilMs = new Map<string, number>();
  #prepaid = new Map<string, number>();

  /**
   * @param config Resolved settings.
   * @param components Clock, bans, optional registry.
   * @throws {RangeError} A bad config value.
   */
  constructor(config: ResolvedLimiterConfig, components: LimiterComponents) {
    this.#access = validateLimiterConfig(config);
    this.#config = config;
    this.#clock = components.clock;
    this.bans = components.bans;
    const now = this.#clock.nowMs();
    const keyed = () => new KeyedLimiter({ ratePerSecond: 0, maxKeys: config.maxTrackedKeys });
    this.#connIp = keyed();
    this.#connSubnet = keyed();
    this.#resPeer = keyed();
    this.#resIp = keyed();
    this.#circPeer = keyed();
    this.#httpIp = keyed();
    this.#resFloodStrikes = keyed();
    this.#connGlobal = new TokenBucket(0, 0, now);
    this.#resGlobal = new TokenBucket(0, 0, now);
    this.#circGlobal = new TokenBucket(0, 0, now);
    this.shaper = new BandwidthShaper(config.bandwidth);
    this.#applyRates();
    if (components.registry !== undefined) {
      registerLimiterMetrics(components.registry, {
        refusals: this.#refusals,
        bansActive: () => this.bans.size(this.#clock.nowMs()),
        banSaveFailures: () => this.bans.saveFailures,
        throttleFactor: () => this.throttleFactor(),
        throttledMs: () => this.shaper.throttledMs,
        trackedKeys: () => this.trackedKeys(),
      });
    }
  }

  checkConnection(ip: string): CheckResult {
    const now = this.#now();
    const blocked = this.#blocked(undefined, ip, now);
    if (blocked !== undefined) return this.#refuse(L_CONNECTION, blocked);
    if (this.#access.isAllowlisted(undefined, ip)) return OK;
    const key = ipKey(ip);
    const perIp = this.#connIp;
    if (!perIp.take(key, now)) {
      return this.#refuse(L_CONNECTION, "rate_ip", perIp.retryAfterMs(key, now));
    }
    const perSubnet = this.#connSubnet;
    let subnet: LimiterKey = "";
    if (perSubnet.ratePerSecond > 0) {
      subnet = this.#subnetKey(ip);
      if (!perSubnet.take(subnet, now)) {
        perIp.refund(key);
        return this.#refuse(L_CONNECTION, "rate_subnet", perSubnet.retryAfterMs(subnet, now));
      }
    }
    if (!this.#connGlobal.take(now)) {
      perIp.refund(key);
      perSubnet.refund(subnet);
      return this.#refuse(L_CONNECTION, "rate_global", this.#connGlobal.retryAfterMs(now));
    }
    if (this.#floodingUntilMs.size > 0 && this.#flooding(key, now)) {
      // Refused here, before the handshake, the connection costs the relay an accept only;
      // its connection tokens stay taken (the attempt was made).
      const reservations = this.#resIp;
      if (!reservations.take(key, now)) {
        return this.#refuse(
          L_CONNECTION,
          "reservation_quota",
          reservations.retryAfterMs(key, now),
        );
      }
      // Connections that never reserve bank no more than one burst.
      const paid = this.#prepaid.get(key) ?? 0;
      this.#prepaid.set(key, Math.min(paid + 1, Math.max(1, reservations.burst)));
    }
    return OK;
  }

  checkPeer(peerId: string, ip?: string): CheckResult {
    const blocked = this.#blocked(peerId, ip, this.#now());
    return blocked === undefined ? OK : this.#refuse(L_PEER, blocked);
  }

  checkReservation(peerId: string, ip?: string): CheckResult {
    const now = this.#now();
    const blocked = this.#blocked(peerId, ip, now);
    if (blocked !== undefined) return this.#refuse(L_RESERVATION, blocked);
    if (this.#access.isAllowlisted(peerId, ip)) return OK;
    const perPeer = this.#resPeer;
    if (!perPeer.take(peerId, now)) {
      return this.#refuse(L_RESERVATION, "rate_peer", perPeer.retryAfterMs(peerId, now));
    }
    const perIp = this.#resIp;
    const key = ip === undefined ? "" : ipKey(ip);
    // A connection of a flooding IP paid its reservation token when it was accepted.
    const paid = ip === undefined ? 0 : this.#prepaid.get(key) ?? 0;
    if (paid > 0) {
      if (paid === 1) this.#prepaid.delete(key);
      else this.#prepaid.set(key, paid - 1);
    } else if (ip !== undefined && !perIp.take(key, now)) {
      perPeer.refund(peerId);
      this.#strike(key, now);
      return this.#refuse(L_RESERVATION, "rate_ip", perIp.retryAfterMs(key, now));
    }
    if (!this.#resGlobal.take(now)) {
      perPeer.refund(peerId);
      if (paid > 0) this.#prepaid.set(key, paid);
      else if (ip !== undefined) perIp.refund(key);
      return this.#refuse(L_RESERVATION, "rate_global", this.#resGlobal.retryAfterMs(now));
    }
    return OK;
  }

  /** A RESERVE of the IP keyed `key` was refused for the per-IP rate. */
  #strike(key: string, now: number): void {
    if (this.#config.reservationFloodRefusals === 0) return;
    const flooding = this.#floodingUntilMs.has(key);
    // The bucket holds the refusals left before flooding: the Nth in a window empties it.
    const strikes = this.#resFloodStrikes;
    if (!flooding && strikes.take(key, now) && strikes.tokens(key, now) >= 1) return;
    // Bounded as every table is: past the bound a new IP is not marked (it keeps the rates).
    if (!flooding && this.#floodingUntilMs.size >= this.#config.maxTrackedKeys) return;
    this.#floodingUntilMs.set(key, now + RESERVATION_FLOOD_WINDOW_MS);
  }

  /** Whether the IP keyed `key` is flooding RESERVE requests now; forgets it once it is not. */
  #flooding(key: string, now: number): boolean {
    const until = this.#floodingUntilMs.get(key);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#floodingUntilMs.delete(key);
    this.#prepaid.delete(key);
    return false;
  }

  checkCircuit(srcPeerId: string, ip: string | undefined, dstPeerId: string): CheckResult {
    const now = this.#now();
    const blocked = this.#blocked(srcPeerId, ip, now) ?? this.#blocked(dstPeerId, undefined, now);
    if (blocked !== undefined) return this.#refuse(L_CIRCUIT, blocked);
    if (this.#access.isAllowlisted(srcPeerId, ip)) return OK;
    const perPeer = this.#circPeer;
    if (!perPeer.take(srcPeerId, now)) {
      return this.#refuse(L_CIRCUIT, "rate_peer", perPeer.retryAfterMs(srcPeerId, now));
    }
    if (!this.#circGlobal.take(now)) {
      perPeer.refund(srcPeerId);
      return this.#refuse(L_CIRCUIT, "rate_global", this.#circGlobal.retryAfterMs(now));
    }
    return OK;
  }

  checkHttp(ip: string, caller?: { readonly operator: boolean }): CheckResult {
    const now = this.#now();
    if (caller?.operator !== true) {
      const blocked = this.#blocked(undefined, ip, now);
      if (blocked !== undefined) return this.#refuse(L_HTTP, blocked);
    }
    if (this.#access.isAllowlisted(undefined, ip)) return OK;
    const key = ipKey(ip);
    if (!this.#httpIp.take(key, now)) {
      return this.#refuse(L_HTTP, "rate_ip", this.#httpIp.retryAfterMs(key, now));
    }
    return OK;
  }

  isAllowlisted(peerId?: string, ip?: string): boolean {
    return this.#access.isAllowlisted(peerId, ip) &&
      this.#blocked(peerId, ip, this.#clock.nowMs()) === undefined;
  }

  openFlow(peerId: string, ip?: string): Flow {
    if (this.shaper.unlimited) return UNLIMITED_FLOW;
    return this.shaper.openFlow(peerId, this.isAllowlisted(peerId, ip));
  }

  setThrottle(factor: number, forMs?: number): void {
    if (typeof factor !== "number" || !(factor > 0 && factor <= 1)) {
      throw new RangeError(
        `Cannot throttle as 'factor' must be in (0, 1]: current value is ${factor}`,
      );
    }
    if (forMs !== undefined && !(typeof forMs === "number" && forMs > 0 && forMs < Infinity)) {
      throw new RangeError(
        `Cannot throttle as 'forMs' must be a positive finite number: current value is ${forMs}`,
      );
    }
    this.#factor = factor;
    this.#throttleUntilMs = factor === 1 || forMs === undefined
      ? Infinity
      : this.#clock.nowMs() + forMs;
    this.#applyRates();
  }

  throttleFactor(): number {
    this.#now();
    return this.#factor;
  }

  setLimit(key: string, value: number): void {
    this.#apply(withLimit(this.#config, key, value), this.#access);
  }

  limits(): Record<LimitKey, number> {
    return limitsOf(this.#config);
  }

  reload(config: ResolvedLimiterConfig): void {
    const access = validateLimiterConfig(config);
    this.#apply(config, access);
  }

  sweep(): number {
    const now = this.#now();
    let dropped = 0;
    for (const table of this.#tables().values()) dropped += table.sweep(now);
    for (const key of [...this.#floodingUntilMs.keys()]) this.#flooding(key, now);
    this.bans.sweep(now);
    // A failed save (a read-only or full disk) is tried again until the bans are on disk.
    if (this.bans.saveError !== undefined) void this.bans.save();
    return dropped;
  }

  trackedKeys(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, table] of this.#tables()) out[name] = table.size;
    out.reservation_flooding_ips = this.#floodingUntilMs.size;
    return out;
  }

  #tables(): Map<string, KeyedLimiter> {
    return new Map([
      ["connections_per_ip", this.#connIp],
      ["connections_per_subnet", this.#connSubnet],
      ["reservations_per_peer", this.#resPeer],
      ["reservations_per_ip", this.#resIp],
      ["circuits_per_peer", this.#circPeer],
      ["http_requests_per_ip", this.#httpIp],
      ["reservation_flood_strikes", this.#resFloodStrikes],
    ]);
  }

  #apply(config: ResolvedLimiterConfig, access: AccessList): void {
    const old = this.#config;
    if (
      config.subnetPrefixV4 !== old.subnetPrefixV4 || config.subnetPrefixV6 !== old.subnetPrefixV6
    ) {
      // Keys of the old prefixes would never be hit again.
      this.#connSubnet.clear();
    }
    this.#config = config;
    this.#access = access;
    if (config.maxTrackedKeys !== old.maxTrackedKeys) {
      for (const table of this.#tables().values()) table.setMaxKeys(config.maxTrackedKeys);
    }
    this.#applyRates();
  }

  /** Pushes the configured rates, scaled by the throttle factor, into every bucket. */
  #applyRates(): void {
    const factor = this.#factor;
    const config = this.#config;
    const set = (target: KeyedLimiter | TokenBucket, field: SpecField) => {
      const { ratePerSecond, burst } = config[field];
      const full = effectiveBurst(field, ratePerSecond, burst);
      target.setRate(ratePerSecond * factor, ratePerSecond === 0 ? 0 : Math.max(1, full * factor));
    };
    set(this.#connIp, "connectionsPerIp");
    set(this.#connSubnet, "connectionsPerSubnet");
    set(this.#connGlobal, "connectionsGlobal");
    set(this.#resPeer, "reservationsPerPeer");
    set(this.#resIp, "reservationsPerIp");
    set(this.#resGlobal, "reservationsGlobal");
    set(this.#circPeer, "circuitsPerPeer");
    set(this.#circGlobal, "circuitsGlobal");
    set(this.#httpIp, "httpRequestsPerIp");
    // N refusals per window, N at once: the bucket is empty after N refusals in a window.
    const floodRefusals = config.reservationFloodRefusals;
    this.#resFloodStrikes.setRate(
      floodRefusals / (RESERVATION_FLOOD_WINDOW_MS / 1000),
      floodRefusals,
    );
    if (floodRefusals === 0) {
      this.#floodingUntilMs.clear();
      this.#prepaid.clear();
    }
    this.shaper.setCaps(config.bandwidth);
    this.shaper.setFactor(factor, this.#throttleUntilMs);
  }

  #now(): number {
    const now = this.#clock.nowMs();
    if (now >= this.#throttleUntilMs) {
      this.#factor = 1;
      this.#throttleUntilMs = Infinity;
      this.#applyRates();
    }
    return now;
  }

  /** Ban or deny on the peer or IP, bans first. */
  #blocked(
    peerId: string | undefined,
    ip: string | undefined,
    now: number,
  ): RefusalReason | undefined {
    const bans = this.bans;
    if (peerId !== undefined && bans.isPeerBanned(peerId, now)) return "banned";
    if (ip !== undefined && bans.hasIpBans && bans.isIpBanned(ip, now)) return "banned";
    if (this.#access.isDenied(peerId, ip)) return "denied";
    return undefined;
  }

  #subnetKey(ip: string): LimiterKey {
    const family = parseIp(ip);
    if (family === 0) return ip;
    return networkKey(
      family,
      family === 4 ? this.#config.subnetPrefixV4 : this.#config.subnetPrefixV6,
    );
  }

  #refuse(limiter: number, reason: RefusalReason, retryAfterMs?: number): CheckResult {
    this.#refusals[limiter * REFUSAL_REASONS.length + REASON_INDEX[reason]]!++;
    return retryAfterMs === undefined ? { ok: false, reason } : { ok: false, reason, retryAfterMs };
  }
}
