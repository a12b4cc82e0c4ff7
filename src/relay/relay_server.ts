/**
 * The relay service mounted on the daemon's libp2p host: registers the hop handler, frees a
 * reservation as soon as its peer disconnects, sweeps expired reservations, and tears down
 * every circuit and setup on stop.
 *
 * @module
 */

import { privateKeyFromProtobuf } from "@libp2p/crypto/keys";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import { CircuitSlots } from "./circuit.ts";
import type { Circuit } from "./circuit.ts";
import {
  HOP_MAX_INBOUND_STREAMS,
  HOP_PROTOCOL,
  RELAY_EVENTS,
  RESERVATION_SWEEP_INTERVAL_MS,
  STOP_MAX_OUTBOUND_STREAMS,
} from "./constants.ts";
import { flushCircuitBytes, HopHandler, peerKey } from "./hop_handler.ts";
import { RelayMetrics } from "./metrics.ts";
import type {
  CircuitInfo,
  Relay,
  RelayComponents,
  RelayStats,
  ReservationInfo,
  ResolvedRelayConfig,
} from "./mod.ts";
import { ReservationStore } from "./reservation_store.ts";
import { sealVoucher } from "./voucher.ts";

const log = getLogger(["hopd", "relay"]);

const CODE_P2P_CIRCUIT = 290;

/** Circuit relay v2 server (hop + stop) on a libp2p host. */
export class RelayServer implements Relay {
  readonly config: ResolvedRelayConfig;
  readonly events: EventTarget = new EventTarget();
  readonly #libp2p: Libp2p;
  readonly #store: ReservationStore<PeerId>;
  readonly #slots: CircuitSlots;
  readonly #circuits = new Set<Circuit>();
  readonly #metrics: RelayMetrics;
  readonly #hop: HopHandler;
  #draining = false;
  #started = false;
  readonly #clock: Clock;
  #sweeper: TimerId | undefined;
  #addrs: Uint8Array[] | undefined;

  /**
   * @param config Resolved relay config.
   * @param components Host, registry and key.
   */
  constructor(config: ResolvedRelayConfig, components: RelayComponents) {
    this.config = config;
    this.#libp2p = components.libp2p;
    this.#clock = components.clock ?? SYSTEM_CLOCK;
    this.#store = new ReservationStore<PeerId>({
      ttlMs: config.reservationTtlMs,
      maxReservations: config.maxReservations,
      maxPerIp: config.maxReservationsPerIp,
      maxPerSubnet: config.maxReservationsPerSubnet,
      clock: this.#clock,
      onChange: () => this.#tell(RELAY_EVENTS.reservation),
    });
    this.#slots = new CircuitSlots(config.maxCircuits, config.maxCircuitsPerPeer);
    this.#metrics = new RelayMetrics(components.registry, {
      reservations: () => this.#store.size,
      circuits: () => this.#circuits.size,
      flushBytes: () => this.#flushBytes(),
      onStreamError: () => this.#tell(RELAY_EVENTS.streamError),
    });
    const privateKey = privateKeyFromProtobuf(components.privateKeyProtobuf);
    this.#hop = new HopHandler({
      config,
      clock: this.#clock,
      store: this.#store,
      slots: this.#slots,
      metrics: this.#metrics,
      circuits: this.#circuits,
      onCircuitsChange: () => this.#tell(RELAY_EVENTS.circuit),
      relayId: this.#libp2p.peerId.toMultihash().bytes,
      sealVoucher: (voucher) => sealVoucher(privateKey, voucher),
      relayAddrs: () => this.#relayAddrs(),
      connectionsTo: (peer) => this.#libp2p.getConnections(peer),
      isDraining: () => this.#draining,
      admission: components.admission,
      onReservationRefused: components.onReservationRefused,
    });
  }

  #tell(type: string): void {
    this.events.dispatchEvent(new Event(type));
  }

  /** Registers the hop protocol and starts watching disconnects. */
  async start(): Promise<void> {
    if (this.#started) return;
    await this.#libp2p.handle(HOP_PROTOCOL, (stream, connection) => {
      void this.#hop.handle(stream, connection);
    }, {
      maxInboundStreams: HOP_MAX_INBOUND_STREAMS,
      maxOutboundStreams: STOP_MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: false,
    });
    this.#libp2p.addEventListener("peer:disconnect", this.#onDisconnect);
    this.#libp2p.addEventListener("self:peer:update", this.#onSelfUpdate);
    this.#sweeper = this.#clock.setInterval(
      () => this.#store.sweep(),
      RESERVATION_SWEEP_INTERVAL_MS,
    );
    this.#started = true;
  }

  /** Unregisters, resets every circuit and setup in progress, and drops all reservations. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#clock.clearInterval(this.#sweeper);
    this.#libp2p.removeEventListener("peer:disconnect", this.#onDisconnect);
    this.#libp2p.removeEventListener("self:peer:update", this.#onSelfUpdate);
    try {
      await this.#libp2p.unhandle(HOP_PROTOCOL);
    } catch {
      // The host may already be stopping; its registrar is going away with it.
    }
    this.#hop.abortPending();
    for (const circuit of [...this.#circuits]) circuit.stop();
    this.#store.clear();
  }

  /** Live counts and running totals. */
  stats(): RelayStats {
    this.#flushBytes();
    const t = this.#metrics.totals;
    return {
      reservations: this.#store.size,
      circuits: this.#circuits.size,
      reservationsAccepted: t.reservationsAccepted,
      circuitsOpened: t.circuitsOpened,
      refusals: t.refusals,
      streamErrors: t.streamErrors,
      bytesRelayed: t.bytesRelayed,
      draining: this.#draining,
    };
  }

  /** Held reservations, for the admin API. */
  reservations(): ReservationInfo[] {
    return Array.from(this.#store.live(), (r) => ({
      peer: r.peer.toString(),
      ip: r.ip,
      expiresAt: new Date(r.expiresAtMs).toISOString(),
    }));
  }

  /** Open circuits, for the admin API. */
  circuits(): CircuitInfo[] {
    const now = this.#clock.monotonicMs();
    return Array.from(this.#circuits, (circuit) => ({
      source: circuit.peers?.source.toString() ?? "",
      target: circuit.peers?.target.toString() ?? "",
      bytesSrcToDst: circuit.bytesSrcToDst,
      bytesDstToSrc: circuit.bytesDstToSrc,
      ageSeconds: Math.round(now - circuit.startedAt) / 1000,
    }));
  }

  /** While draining, new reservations are refused; renewals and circuits still pass. */
  setDraining(draining: boolean): void {
    this.#draining = draining;
  }

  #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    // Spec: a reservation is valid only while the peer stays connected.
    if (this.#store.remove(peerKey(evt.detail.toMultihash().bytes))) {
      // Lazy: a flood's disconnects must cost nothing below debug.
      log.debug("Reservation of {peer} ended: its connection closed", () => ({
        peer: evt.detail.toString(),
      }));
    }
  };

  #onSelfUpdate = (): void => {
    this.#addrs = undefined;
  };

  #relayAddrs(): Uint8Array[] {
    this.#addrs ??= this.#libp2p.getMultiaddrs()
      .filter((ma) => !ma.getComponents().some((c) => c.code === CODE_P2P_CIRCUIT))
      .map((ma) => ma.bytes);
    return this.#addrs;
  }

  #flushBytes(): void {
    for (const circuit of this.#circuits) flushCircuitBytes(this.#metrics, circuit);
  }
}
