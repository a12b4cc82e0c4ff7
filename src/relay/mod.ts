/**
 * hopd's circuit relay v2 server (libp2p specs `relay/circuit-v2.md`): the hop protocol for
 * reservations and circuit setup, the stop protocol towards reserved targets, and the data
 * path between them. It sits on the daemon's libp2p host and speaks to unmodified js, go and
 * rust clients.
 *
 * Flow: a RESERVE on `/libp2p/circuit/relay/0.2.0/hop` lands in the
 * {@linkcode ReservationStore} (total, per-IP and per-subnet limits; one reservation per
 * peer, renewed by a second RESERVE; freed when the peer disconnects or expires) and is
 * answered with the expiry, the relay's addrs, a signed voucher and the circuit limit. A
 * CONNECT to a reserved peer takes a circuit slot, opens `/libp2p/circuit/relay/0.2.0/stop`
 * to the target, and on its STATUS OK answers STATUS OK and hands both streams to a
 * {@linkcode Circuit}, which relays with backpressure and cuts at the advertised limits
 * (seconds and bytes per direction, exactly as advertised; 0 = unlimited and not
 * advertised).
 *
 * Draining ({@linkcode Relay.setDraining}): new reservations are refused with
 * RESERVATION_REFUSED; renewals of reservations already held, and circuits to reserved
 * peers, are still served, so peers stay reachable while they move and circuits end by
 * their own duration limit.
 *
 * Limits in {@linkcode ResolvedRelayConfig} of 0 mean unlimited (counts included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
 * import { MetricsRegistry } from "../metrics/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import { createHost } from "../host/mod.ts";
 * import { relay } from "./mod.ts";
 * const config = defaultConfig();
 * const privateKeyProtobuf = privateKeyToProtobuf(await generateKeyPair("Ed25519"));
 * const host = await createHost({
 *   ...config,
 *   node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
 *   privateKeyProtobuf,
 * });
 * await host.start();
 * const registry = new MetricsRegistry();
 * const service = relay(config.relay)({ libp2p: host.libp2p, registry, privateKeyProtobuf });
 * await service.start();
 * assert.equal(service.stats().reservations, 0);
 * await service.stop();
 * await host.stop();
 * ```
 *
 * @module
 */

import type { Libp2p } from "@libp2p/interface";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Clock } from "../clock/mod.ts";
import type { ResolvedRelaySectionConfig } from "../config/mod.ts";
import { RelayServer } from "./relay_server.ts";

export { RELAY_EVENTS } from "./constants.ts";

/** The relay settings the code uses: `[relay]` as the config loader resolves it. */
export type ResolvedRelayConfig = ResolvedRelaySectionConfig;

/** Status an admission hook may refuse with (the spec's codes). */
export type AdmissionRefusalStatus =
  | "PERMISSION_DENIED"
  | "RESOURCE_LIMIT_EXCEEDED"
  | "RESERVATION_REFUSED";

/** The answer of an admission hook; `reason` is counted in `hopd_refusals_total`. */
export type Admission =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: AdmissionRefusalStatus; readonly reason: string };

/** One shaped direction of a circuit (the rate limiter's flows fit this). */
export interface BandwidthFlow {
  /**
   * Asks to relay up to `bytes` now; returns the bytes granted (already charged), or 0 when
   * none may go yet. The data path moves nothing it was not granted.
   */
  take(nowMs: number, bytes: number): number;
  /** After `take` granted nothing: whole milliseconds until it can (≥ 1). */
  readonly retryAfterMs: number;
  /** Ends the flow: its share of the caps goes back to the others. */
  close(): void;
}

/**
 * Policy hooks the relay asks before it serves (the daemon wires the rate limiter and, later,
 * plugins here; the relay knows neither). Each must answer synchronously and never throw.
 * Peers are named by their peer ID's text (`12D3KooW…`), the key the limiter, bans and plugins
 * use.
 */
export interface RelayAdmission {
  /** Before a RESERVE is served. `ip` is absent for non-IP transports. */
  reservation(peer: string, ip: string | undefined): Admission;
  /** Before a CONNECT takes a circuit slot. */
  circuit(source: string, ip: string | undefined, target: string): Admission;
  /**
   * Per-source circuit limit for this peer instead of `maxCircuitsPerPeer` (0 = unlimited),
   * or undefined for the configured one (operators give their own nodes more).
   */
  maxCircuitsPerPeer(source: string, ip: string | undefined): number | undefined;
  /**
   * A bandwidth flow for one direction of a circuit whose initiator is `source`; undefined =
   * unshaped.
   */
  openFlow(source: string, ip: string | undefined): BandwidthFlow | undefined;
  /**
   * Asked after {@linkcode RelayAdmission.reservation} admits (operator plugins). Returns
   * undefined when nothing needs asking, so the common path stays synchronous; the promise
   * must settle within a bounded time and never reject.
   */
  reservationHook?(peer: string, ip: string | undefined): Promise<Admission> | undefined;
  /** Asked after {@linkcode RelayAdmission.circuit} admits, like `reservationHook`. */
  circuitHook?(
    source: string,
    ip: string | undefined,
    target: string,
  ): Promise<Admission> | undefined;
}

/** What the relay needs from the daemon. */
export interface RelayComponents {
  /** The host the relay mounts its hop handler on. */
  readonly libp2p: Libp2p;
  /** Registry the relay's metrics are registered on. */
  readonly registry: MetricsRegistry;
  /**
   * The host's identity key as libp2p protobuf bytes (src/identity's `privateKeyProtobuf`),
   * which signs reservation vouchers (`Libp2p` does not expose it); decoded once, at build.
   */
  readonly privateKeyProtobuf: Uint8Array;
  /** Reservation expiry, circuit limits and ages, setup timeouts. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
  /** Admission hooks (rate limiter, bans); absent = admit everything within the config. */
  readonly admission?: RelayAdmission;
  /**
   * Told when the reservation store refuses a RESERVE (reason "total_limit", "ip_limit",
   * "subnet_limit" or "draining"), so the daemon can log where else the peer could go. Must
   * not throw.
   */
  readonly onReservationRefused?: (peer: string, reason: string) => void;
}

/** Live counts and totals since start. */
export interface RelayStats {
  /** Reservations held. */
  readonly reservations: number;
  /** Circuits relaying. */
  readonly circuits: number;
  /** Reservations created or renewed. */
  readonly reservationsAccepted: number;
  /** Circuits established. */
  readonly circuitsOpened: number;
  /** Reservations and circuits refused. */
  readonly refusals: number;
  /** Streams reset for bad bytes, timeouts or peer resets. */
  readonly streamErrors: number;
  /** Bytes relayed, both directions. */
  readonly bytesRelayed: number;
  /** Whether the relay is draining. */
  readonly draining: boolean;
}

/** One held reservation, for listings. */
export interface ReservationInfo {
  /** The reserving peer's ID. */
  readonly peer: string;
  /** The IP it reserved from. */
  readonly ip: string;
  /** ISO 8601 expiry. */
  readonly expiresAt: string;
}

/** One open circuit, for listings. */
export interface CircuitInfo {
  /** The initiating peer's ID. */
  readonly source: string;
  /** The target peer's ID. */
  readonly target: string;
  /** Bytes relayed from source to target. */
  readonly bytesSrcToDst: number;
  /** Bytes relayed from target back to source. */
  readonly bytesDstToSrc: number;
  /** Seconds since the circuit opened. */
  readonly ageSeconds: number;
}

/** The relay service. */
export interface Relay {
  /** The settings it runs with. */
  readonly config: ResolvedRelayConfig;
  /** Held reservations (a snapshot). */
  reservations(): ReservationInfo[];
  /** Open circuits (a snapshot). */
  circuits(): CircuitInfo[];
  /** Registers the hop protocol handler and starts the reservation sweep. */
  start(): Promise<void>;
  /** Unregisters the handler, stops the sweep and closes every open circuit (drain first). */
  stop(): Promise<void>;
  /** Counts for /v1/status, metrics and the policy snapshot. */
  stats(): RelayStats;
  /** Refuse new reservations (true) or accept them again (false). */
  setDraining(draining: boolean): void;
  /** Tells of each change of reservations, circuits and stream errors: `RELAY_EVENTS`. */
  readonly events: EventTarget;
}

/** The keys of the relay config that hold counts, sizes and durations. */
type NumericKey = {
  [K in keyof ResolvedRelayConfig]: ResolvedRelayConfig[K] extends number ? K : never;
}[keyof ResolvedRelayConfig];

const CONFIG_KEYS: readonly NumericKey[] = [
  "reservationTtlMs",
  "maxReservations",
  "maxReservationsPerIp",
  "maxReservationsPerSubnet",
  "subnetPrefixV4",
  "subnetPrefixV6",
  "maxCircuits",
  "maxCircuitsPerPeer",
  "circuitDurationMs",
  "circuitDataBytes",
  "handshakeTimeoutMs",
  "maxMessageBytes",
];

/**
 * Checks a resolved config once.
 *
 * @param config The config.
 * @throws {RangeError} When a value is not a non-negative safe integer, a prefix is out of
 *   range, or the TTL or duration does not fit the wire fields.
 */
export function validateRelayConfig(config: ResolvedRelayConfig): void {
  for (const key of CONFIG_KEYS) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot start relay as '${key}' must be a non-negative integer: current value is ${value}`,
      );
    }
  }
  if (config.subnetPrefixV4 > 32) {
    throw new RangeError(
      `Cannot start relay as 'subnetPrefixV4' must be at most 32: current value is ${config.subnetPrefixV4}`,
    );
  }
  if (config.subnetPrefixV6 > 128) {
    throw new RangeError(
      `Cannot start relay as 'subnetPrefixV6' must be at most 128: current value is ${config.subnetPrefixV6}`,
    );
  }
  if (config.reservationTtlMs === 0) {
    throw new RangeError(
      "Cannot start relay as 'reservationTtlMs' must be positive: current value is 0",
    );
  }
  // Limit.duration is a uint32 of seconds.
  if (Math.ceil(config.circuitDurationMs / 1000) > 0xffff_ffff) {
    throw new RangeError(
      `Cannot start relay as 'circuitDurationMs' must fit 2^32-1 seconds: current value is ${config.circuitDurationMs}`,
    );
  }
}

/**
 * Creates the relay service factory.
 *
 * @param config Resolved relay config.
 * @returns A factory taking the host, registry and key.
 * @throws {RangeError} When the config is invalid (see {@linkcode validateRelayConfig}).
 */
export function relay(config: ResolvedRelayConfig): (components: RelayComponents) => Relay {
  validateRelayConfig(config);
  return (components) => new RelayServer(config, components);
}
