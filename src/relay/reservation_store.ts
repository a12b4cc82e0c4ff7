/**
 * Reservations held by the relay: one per peer, with an expiry, counted against a total, a
 * per-IP and a per-subnet limit. All operations are synchronous, so a check and the insert
 * it guards cannot interleave with a disconnect.
 *
 * Entries sit in a Map in expiry order: the TTL is fixed, and a renewal moves its entry to
 * the end, so {@linkcode ReservationStore.sweep} stops at the first live entry.
 *
 * @example
 * ```ts
 * import { ReservationStore } from "./reservation_store.ts";
 * const store = new ReservationStore<string>({
 *   ttlMs: 60_000, maxReservations: 10, maxPerIp: 2, maxPerSubnet: 4,
 * });
 * const result = store.reserve({
 *   key: "peer-a",
 *   peer: "peer-a",
 *   addr: { ip: "4:1", subnet: "4:0/24" },
 * });
 * result.status; // "OK"
 * ```
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import type { AddrKeys } from "./_ip.ts";

/** Why a reservation was refused; each is reported as `RESERVATION_REFUSED` on the wire. */
export type ReservationRefusal =
  | "draining"
  | "total_limit"
  | "ip_limit"
  | "subnet_limit";

/** The outcome of {@linkcode ReservationStore.reserve}. */
export type ReserveResult =
  | { readonly status: "OK"; readonly expiresAtMs: number; readonly renewed: boolean }
  | { readonly status: "RESERVATION_REFUSED"; readonly reason: ReservationRefusal };

/** One held reservation; kept small, as a relay may hold tens of thousands. */
export interface Reservation<P> {
  /** The reserving peer (a PeerId in the daemon). */
  readonly peer: P;
  /** Wall-clock expiry, in ms since the epoch. */
  expiresAtMs: number;
  ip: string;
  subnet: string;
}

/** Limits and clock of a {@linkcode ReservationStore}. Limits of 0 mean unlimited. */
export interface ReservationStoreInit {
  readonly ttlMs: number;
  readonly maxReservations: number;
  readonly maxPerIp: number;
  readonly maxPerSubnet: number;
  /** Its wall clock gives the expiries. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
  /** Told after a reservation is added, renewed or removed (the relay's `reservation` event). */
  readonly onChange?: () => void;
}

/** Options of one reserve call. */
export interface ReserveRequest<P> {
  /** A stable key of the peer (its multihash bytes as a string). */
  readonly key: string;
  /** The peer handle stored with the reservation. */
  readonly peer: P;
  /** The IP and subnet the peer connects from. */
  readonly addr: AddrKeys;
  /** Refuse new reservations (renewals still pass); absent = not draining. */
  readonly draining?: boolean;
}

function over(limit: number, count: number): boolean {
  return limit > 0 && count >= limit;
}

/** Reservations keyed by peer, with IP and subnet accounting and expiry. */
export class ReservationStore<P> {
  readonly #init: ReservationStoreInit;
  readonly #clock: Clock;
  readonly #byPeer = new Map<string, Reservation<P>>();
  readonly #perIp = new Map<string, number>();
  readonly #perSubnet = new Map<string, number>();

  /** @param init Limits and clock. */
  constructor(init: ReservationStoreInit) {
    this.#init = init;
    this.#clock = init.clock ?? SYSTEM_CLOCK;
  }

  /** Reservations currently held (expired ones not yet swept included). */
  get size(): number {
    return this.#byPeer.size;
  }

  /**
   * Creates or renews the reservation of `key`. A peer holds one reservation: a second
   * RESERVE renews it (new expiry) and, if the peer now connects from another address,
   * moves its IP and subnet accounting there, subject to those limits.
   *
   * @param request The peer, where it connects from, and whether the relay is draining.
   * @returns `OK` with the expiry, or `RESERVATION_REFUSED` with the reason.
   */
  reserve(request: ReserveRequest<P>): ReserveResult {
    const { key, peer, addr } = request;
    const now = this.#clock.nowMs();
    const existing = this.#live(key, now);
    if (existing === undefined) {
      if (request.draining === true) return refuse("draining");
      if (over(this.#init.maxReservations, this.#byPeer.size)) {
        // Expired entries may be holding the slots; free them before refusing.
        this.sweep();
        if (over(this.#init.maxReservations, this.#byPeer.size)) return refuse("total_limit");
      }
    }
    const moved = existing !== undefined &&
      (existing.ip !== addr.ip || existing.subnet !== addr.subnet);
    if (existing === undefined || moved) {
      const sameIp = existing?.ip === addr.ip ? 1 : 0;
      const sameSubnet = existing?.subnet === addr.subnet ? 1 : 0;
      if (over(this.#init.maxPerIp, (this.#perIp.get(addr.ip) ?? 0) - sameIp)) {
        return refuse("ip_limit");
      }
      if (over(this.#init.maxPerSubnet, (this.#perSubnet.get(addr.subnet) ?? 0) - sameSubnet)) {
        return refuse("subnet_limit");
      }
    }
    const expiresAtMs = now + this.#init.ttlMs;
    if (existing !== undefined) {
      if (moved) {
        this.#uncount(existing);
        existing.ip = addr.ip;
        existing.subnet = addr.subnet;
        this.#count(existing);
      }
      existing.expiresAtMs = expiresAtMs;
      // Re-insert so the Map stays ordered by expiry.
      this.#byPeer.delete(key);
      this.#byPeer.set(key, existing);
      this.#init.onChange?.();
      return { status: "OK", expiresAtMs, renewed: true };
    }
    const reservation: Reservation<P> = { peer, expiresAtMs, ip: addr.ip, subnet: addr.subnet };
    this.#byPeer.set(key, reservation);
    this.#count(reservation);
    this.#init.onChange?.();
    return { status: "OK", expiresAtMs, renewed: false };
  }

  /**
   * The live reservation of `key`; an expired one is removed and not returned.
   *
   * @param key The peer key.
   * @returns The reservation, or undefined.
   */
  get(key: string): Reservation<P> | undefined {
    return this.#live(key, this.#clock.nowMs());
  }

  /**
   * Iterates the live reservations (for listings; expired ones are skipped, not removed).
   *
   * @returns The reservations.
   */
  *live(): IterableIterator<Reservation<P>> {
    const now = this.#clock.nowMs();
    for (const reservation of this.#byPeer.values()) {
      if (reservation.expiresAtMs > now) yield reservation;
    }
  }

  /**
   * Removes the reservation of `key` (peer disconnected, or its response failed).
   *
   * @param key The peer key.
   * @returns Whether a reservation was removed.
   */
  remove(key: string): boolean {
    const reservation = this.#byPeer.get(key);
    if (reservation === undefined) return false;
    this.#byPeer.delete(key);
    this.#uncount(reservation);
    this.#init.onChange?.();
    return true;
  }

  /**
   * Removes every expired reservation.
   *
   * @returns How many were removed.
   */
  sweep(): number {
    const now = this.#clock.nowMs();
    let removed = 0;
    for (const [key, reservation] of this.#byPeer) {
      if (reservation.expiresAtMs > now) break;
      this.#byPeer.delete(key);
      this.#uncount(reservation);
      removed++;
    }
    if (removed > 0) this.#init.onChange?.();
    return removed;
  }

  /** Drops every reservation. */
  clear(): void {
    const had = this.#byPeer.size;
    this.#byPeer.clear();
    this.#perIp.clear();
    this.#perSubnet.clear();
    if (had > 0) this.#init.onChange?.();
  }

  /**
   * Reservations held by peers connecting from `ip` (as produced by `addrKeys`).
   *
   * @param ip The IP key.
   * @returns The count.
   */
  countForIp(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /**
   * Reservations held by peers connecting from `subnet`.
   *
   * @param subnet The subnet key.
   * @returns The count.
   */
  countForSubnet(subnet: string): number {
    return this.#perSubnet.get(subnet) ?? 0;
  }

  #live(key: string, now: number): Reservation<P> | undefined {
    const reservation = this.#byPeer.get(key);
    if (reservation === undefined) return undefined;
    if (reservation.expiresAtMs <= now) {
      this.remove(key);
      return undefined;
    }
    return reservation;
  }

  #count(reservation: Reservation<P>): void {
    this.#perIp.set(reservation.ip, (this.#perIp.get(reservation.ip) ?? 0) + 1);
    this.#perSubnet.set(reservation.subnet, (this.#perSubnet.get(reservation.subnet) ?? 0) + 1);
  }

  #uncount(reservation: Reservation<P>): void {
    decrement(this.#perIp, reservation.ip);
    decrement(this.#perSubnet, reservation.subnet);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function refuse(reason: ReservationRefusal): ReserveResult {
  return { status: "RESERVATION_REFUSED", reason };
}
