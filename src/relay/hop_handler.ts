/**
 * The hop protocol server: one call of {@linkcode HopHandler.handle} per inbound
 * `/libp2p/circuit/relay/0.2.0/hop` stream. It reads one length-prefixed `HopMessage` under
 * the handshake timeout, then either reserves (RESERVE) or builds a circuit (CONNECT: stop
 * exchange with the target, STATUS OK to the initiator, then {@linkcode Circuit}).
 *
 * Refusals are status values counted by reason. A peer's bad bytes never throw past its
 * stream: the stream is answered with MALFORMED_MESSAGE where possible, reset, counted and
 * logged at debug. Every slot taken during setup is returned on every failure path.
 *
 * @module
 */

import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock/mod.ts";
import { encodeFrame, FrameReader, FrameTooLargeError, StreamEndedError } from "./_framing.ts";
import { ipOf } from "../ip/mod.ts";
import { addrKeys } from "./_ip.ts";
import { Circuit, CircuitSlots } from "./circuit.ts";
import type { CircuitEndedBy, CircuitEndReason, CircuitLimit } from "./circuit.ts";
import type { RelayMetrics } from "./metrics.ts";
import type { RelayAdmission, ResolvedRelayConfig } from "./mod.ts";
import { decodeHopMessage, encodeHopMessage, MalformedMessageError } from "./pb/circuit.ts";
import type { HopMessage, Limit, Status } from "./pb/circuit.ts";
import type { ReservationStore } from "./reservation_store.ts";
import { openStopStream } from "./stop_client.ts";
import type { ReservationVoucher } from "./pb/circuit.ts";

const log = getLogger(["hopd", "relay"]);
const CODE_P2P_CIRCUIT = 290;

/** A stream reset by the relay for a protocol violation or timeout. */
export class HopStreamError extends Error {
  override name = "HopStreamError";
}

/** What the hop handler needs; the relay server provides the real ones, tests fakes. */
export interface HopHandlerComponents {
  readonly config: ResolvedRelayConfig;
  readonly store: ReservationStore<PeerId>;
  /** Setup timeouts and latencies, and each circuit's limits. */
  readonly clock: Clock;
  readonly slots: CircuitSlots;
  readonly metrics: RelayMetrics;
  /** Circuits currently relaying (the handler adds and removes). */
  readonly circuits: Set<Circuit>;
  /** Told after a circuit is added to or removed from `circuits`. */
  readonly onCircuitsChange?: () => void;
  /** Multihash bytes of the relay's own peer id. */
  readonly relayId: Uint8Array;
  /** Seals a reservation voucher with the relay's key. */
  sealVoucher(voucher: ReservationVoucher): Promise<Uint8Array>;
  /** The relay's public addrs (bytes), without `/p2p-circuit`. */
  relayAddrs(): Uint8Array[];
  /** Open connections to `peer`. */
  connectionsTo(peer: PeerId): Connection[];
  isDraining(): boolean;
  /** Admission hooks (rate limiter, bans); absent = admit everything within the config. */
  readonly admission?: RelayAdmission;
  /**
   * Told when the reservation store refuses a RESERVE (reason "total_limit", "ip_limit",
   * "subnet_limit" or "draining"), so the daemon can log where else the peer could go. Must
   * not throw.
   */
  readonly onReservationRefused?: (peer: string, reason: string) => void;
}

/**
 * A stable map key of a peer: its multihash bytes as a binary string.
 *
 * @param multihash The peer id's multihash bytes.
 * @returns The key.
 */
export function peerKey(multihash: Uint8Array): string {
  return String.fromCharCode(...multihash);
}

/**
 * Whether a connection is itself relayed or limited (spec: no hop over such connections).
 *
 * @param connection The connection.
 * @returns True when the connection must not carry hop requests.
 */
export function isRelayed(connection: Connection): boolean {
  return connection.limits !== undefined ||
    connection.remoteAddr.getComponents().some((c) => c.code === CODE_P2P_CIRCUIT);
}

/**
 * Converts the configured limits to what is advertised (seconds, bytes; 0 is omitted) and
 * what is enforced: the advertised values exactly.
 *
 * @param config The relay config.
 * @returns The wire limit (undefined when unlimited) and the enforced limit.
 */
export function circuitLimits(
  config: ResolvedRelayConfig,
): { wire: Limit | undefined; enforced: CircuitLimit } {
  const durationS = config.circuitDurationMs > 0 ? Math.ceil(config.circuitDurationMs / 1000) : 0;
  const dataBytes = config.circuitDataBytes;
  const wire: Limit = {};
  if (durationS > 0) wire.duration = durationS;
  if (dataBytes > 0) wire.data = BigInt(dataBytes);
  return {
    wire: durationS > 0 || dataBytes > 0 ? wire : undefined,
    enforced: { durationMs: durationS * 1000, dataBytes },
  };
}

/** One hop stream being served. */
interface HopExchange {
  readonly stream: Stream;
  /** Reads the stream's frames; hands over what it buffered when the circuit starts. */
  readonly reader: FrameReader;
  /** The connection the stream arrived on (the initiator's). */
  readonly connection: Connection;
  /** When the request was read, on the clock's monotonic reading. */
  readonly receivedAt: number;
  /** Aborted at the handshake timeout or when the relay stops. */
  readonly signal: AbortSignal;
}

/** The initiator of a circuit. */
interface CircuitSource {
  readonly peer: PeerId;
  readonly ip: string | undefined;
  /** Its multihash bytes, as the STOP message carries them. */
  readonly id: Uint8Array;
  /** Its slot key. */
  readonly key: string;
}

/** The reserved target of a circuit and its direct connection. */
interface CircuitTarget {
  readonly peer: PeerId;
  readonly connection: Connection;
}

/** Serves hop streams. */
export class HopHandler {
  readonly #c: HopHandlerComponents;
  readonly #wireLimit: Limit | undefined;
  readonly #enforcedLimit: CircuitLimit;
  /** Setups in progress, aborted when the relay stops. */
  readonly #pending = new Set<AbortController>();
  /** Whether this handler has warned that STOP streams are negotiated first after all. */
  #warnedNotPipelined = false;

  /** @param components Store, slots, metrics, key and host access. */
  constructor(components: HopHandlerComponents) {
    this.#c = components;
    const { wire, enforced } = circuitLimits(components.config);
    this.#wireLimit = wire;
    this.#enforcedLimit = enforced;
  }

  /** Aborts every setup in progress (relay stopping). */
  abortPending(): void {
    for (const setup of this.#pending) setup.abort();
    this.#pending.clear();
  }

  /**
   * Serves one inbound hop stream. Never rejects.
   *
   * @param stream The hop stream.
   * @param connection The connection it arrived on.
   */
  async handle(stream: Stream, connection: Connection): Promise<void> {
    const setup = new AbortController();
    this.#pending.add(setup);
    const timeoutMs = this.#c.config.handshakeTimeoutMs;
    const clock = this.#c.clock;
    const timer = timeoutMs > 0 ? clock.setTimeout(() => setup.abort(), timeoutMs) : undefined;
    const onAbort = (): void => stream.abort(new HopStreamError("hop handshake timed out"));
    setup.signal.addEventListener("abort", onAbort, { once: true });
    const reader = new FrameReader(stream, this.#c.config.maxMessageBytes);
    try {
      let request: HopMessage;
      try {
        request = decodeHopMessage(await reader.read());
      } catch (error) {
        this.#failed(stream, error, setup.signal.aborted);
        return;
      }
      const receivedAt = clock.monotonicMs();
      if (request.type === "RESERVE") {
        await this.#reserve(stream, connection);
      } else if (request.type === "CONNECT") {
        await this.#connect(
          { stream, reader, connection, receivedAt, signal: setup.signal },
          request,
        );
      } else {
        const status: Status = request.type === undefined
          ? "MALFORMED_MESSAGE"
          : "UNEXPECTED_MESSAGE";
        this.#c.metrics.streamError(
          "hop",
          status === "MALFORMED_MESSAGE" ? "malformed" : "unexpected",
        );
        log.debug("hop from {peer}: {status}", { peer: connection.remotePeer.toString(), status });
        reply(stream, { type: "STATUS", status });
        stream.abort(new HopStreamError(status));
      }
    } catch (error) {
      this.#failed(stream, error, setup.signal.aborted);
    } finally {
      clock.clearTimeout(timer);
      setup.signal.removeEventListener("abort", onAbort);
      this.#pending.delete(setup);
    }
  }

  /** Counts, logs and resets a stream whose bytes or timing broke the protocol. */
  #failed(stream: Stream, error: unknown, timedOut: boolean): void {
    let reason: string;
    if (timedOut) reason = "timeout";
    else if (error instanceof FrameTooLargeError) reason = "oversized";
    else if (error instanceof MalformedMessageError) reason = "malformed";
    else if (error instanceof StreamEndedError) reason = "eof";
    else reason = "reset";
    if (reason === "oversized" || reason === "malformed") {
      reply(stream, { type: "STATUS", status: "MALFORMED_MESSAGE" });
    }
    this.#c.metrics.streamError("hop", reason);
    log.debug("hop stream {id} reset: {reason}: {error}", {
      id: stream.id,
      reason,
      error: (error as Error)?.message,
    });
    stream.abort(new HopStreamError(`hop ${reason}`));
  }

  #refuseReservation(stream: Stream, status: Status, reason: string): void {
    this.#c.metrics.reservationsTotal.inc({ result: "refused" });
    this.#c.metrics.refusal(reason);
    reply(stream, { type: "STATUS", status });
    closeGracefully(stream, this.#c.config.handshakeTimeoutMs, this.#c.clock);
  }

  async #reserve(stream: Stream, connection: Connection): Promise<void> {
    const c = this.#c;
    if (isRelayed(connection)) {
      return this.#refuseReservation(stream, "PERMISSION_DENIED", "relayed_connection");
    }
    const peer = connection.remotePeer;
    const peerId = peer.toMultihash().bytes;
    const key = peerKey(peerId);
    const addr = addrKeys(connection.remoteAddr, c.config.subnetPrefixV4, c.config.subnetPrefixV6);
    const ip = ipOf(connection.remoteAddr);
    // The admission names peers by their text (libp2p's PeerId caches it).
    const admitted = c.admission?.reservation(peer.toString(), ip);
    if (admitted !== undefined && !admitted.ok) {
      return this.#refuseReservation(stream, admitted.status, admitted.reason);
    }
    const hooked = c.admission?.reservationHook?.(peer.toString(), ip);
    if (hooked !== undefined) {
      const answer = await hooked;
      if (!answer.ok) return this.#refuseReservation(stream, answer.status, answer.reason);
    }
    const result = c.store.reserve({ key, peer, addr, draining: c.isDraining() });
    if (result.status !== "OK") {
      this.#refuseReservation(stream, result.status, result.reason);
      c.onReservationRefused?.(peer.toString(), result.reason);
      return;
    }
    const expire = BigInt(Math.floor(result.expiresAtMs / 1000));
    try {
      const voucher = await c.sealVoucher({ relay: c.relayId, peer: peerId, expiration: expire });
      // The peer may have gone while we signed; its disconnect event has then passed.
      if (c.connectionsTo(peer).length === 0 || stream.status !== "open") {
        throw new HopStreamError("peer left during reservation");
      }
      reply(stream, {
        type: "STATUS",
        status: "OK",
        reservation: { expire, addrs: c.relayAddrs(), voucher },
        limit: this.#wireLimit,
      });
    } catch (error) {
      if (!result.renewed || c.connectionsTo(peer).length === 0) c.store.remove(key);
      c.metrics.reservationsTotal.inc({ result: "failed" });
      throw error;
    }
    c.metrics.reservationsTotal.inc({ result: result.renewed ? "renewed" : "created" });
    c.metrics.totals.reservationsAccepted++;
    closeGracefully(stream, c.config.handshakeTimeoutMs, c.clock);
  }

  #refuseCircuit(stream: Stream, status: Status, reason: string): void {
    this.#c.metrics.circuitsTotal.inc({ result: "refused" });
    this.#c.metrics.refusal(reason);
    reply(stream, { type: "STATUS", status });
    closeGracefully(stream, this.#c.config.handshakeTimeoutMs, this.#c.clock);
  }

  /**
   * CONNECT: the target must hold a reservation and a direct connection; the limiter and the
   * plugins must admit the circuit; it must get a slot; then the target is asked over stop
   * and, on its OK, both streams are bridged.
   */
  async #connect(hop: HopExchange, request: HopMessage): Promise<void> {
    const c = this.#c;
    const target = this.#reservedTarget(hop, request);
    if (target === undefined) return;
    const { connection } = hop;
    const source = { peer: connection.remotePeer, ip: ipOf(connection.remoteAddr) };
    if (!await this.#admitCircuit(hop.stream, source, target.peer)) return;
    const sourceId = source.peer.toMultihash().bytes;
    const sourceKey = peerKey(sourceId);
    const slot = c.slots.acquire(
      sourceKey,
      c.admission?.maxCircuitsPerPeer(source.peer.toString(), source.ip) ??
        c.config.maxCircuitsPerPeer,
    );
    if (slot !== "OK") {
      return this.#refuseCircuit(hop.stream, "RESOURCE_LIMIT_EXCEEDED", slot);
    }
    let handedOff = false;
    try {
      handedOff = await this.#bridge(hop, { ...source, id: sourceId, key: sourceKey }, target);
    } finally {
      if (!handedOff) c.slots.release(sourceKey);
    }
  }

  /** The reserved target of a CONNECT with its direct connection; undefined once refused. */
  #reservedTarget(hop: HopExchange, request: HopMessage): CircuitTarget | undefined {
    const c = this.#c;
    if (isRelayed(hop.connection)) {
      this.#refuseCircuit(hop.stream, "PERMISSION_DENIED", "relayed_connection");
      return undefined;
    }
    const target = request.peer?.id;
    if (target === undefined || target.byteLength === 0) {
      throw new MalformedMessageError("CONNECT without a target peer id");
    }
    const targetKey = peerKey(target);
    const reservation = c.store.get(targetKey);
    const connection = reservation === undefined
      ? undefined
      : c.connectionsTo(reservation.peer).find((conn) => !isRelayed(conn));
    if (reservation === undefined || connection === undefined) {
      // A reservation whose peer has no direct connection left is no use to anyone.
      if (reservation !== undefined) c.store.remove(targetKey);
      this.#refuseCircuit(hop.stream, "NO_RESERVATION", "no_reservation");
      return undefined;
    }
    return { peer: reservation.peer, connection };
  }

  /** Asks the limiter, then the plugins; false once either refused the stream. */
  async #admitCircuit(
    stream: Stream,
    source: { readonly peer: PeerId; readonly ip: string | undefined },
    target: PeerId,
  ): Promise<boolean> {
    const admission = this.#c.admission;
    if (admission === undefined) return true;
    const from = source.peer.toString();
    const to = target.toString();
    const admitted = admission.circuit(from, source.ip, to);
    if (!admitted.ok) {
      this.#refuseCircuit(stream, admitted.status, admitted.reason);
      return false;
    }
    const hooked = admission.circuitHook?.(from, source.ip, to);
    if (hooked === undefined) return true;
    const answer = await hooked;
    if (!answer.ok) this.#refuseCircuit(stream, answer.status, answer.reason);
    return answer.ok;
  }

  /**
   * Opens the stop stream to the target and, on its STATUS OK, answers the initiator OK and
   * hands both streams to a {@linkcode Circuit}.
   *
   * @returns Whether the circuit now holds the source's slot.
   */
  async #bridge(hop: HopExchange, source: CircuitSource, target: CircuitTarget): Promise<boolean> {
    const c = this.#c;
    const { stream, signal } = hop;
    const stopOpenedAt = c.clock.monotonicMs();
    const stop = await openStopStream(target.connection, {
      source: source.id,
      limit: this.#wireLimit,
      maxMessageBytes: c.config.maxMessageBytes,
      pipeline: c.config.stopPipelining,
      signal,
      onNotPipelined: this.#warnNotPipelined,
    });
    if (stop.status !== "OK") {
      if (stop.reason !== "refused") c.metrics.streamError("stop", stop.reason);
      log.debug("stop to {target} failed: {reason}", {
        target: target.peer.toString(),
        reason: stop.reason,
      });
      c.metrics.circuitsTotal.inc({ result: "failed" });
      if (signal.aborted) throw new HopStreamError("circuit setup timed out");
      reply(stream, { type: "STATUS", status: "CONNECTION_FAILED" });
      closeGracefully(stream, c.config.handshakeTimeoutMs, c.clock);
      return false;
    }
    if (signal.aborted || stream.status !== "open") {
      stop.stream.abort(new HopStreamError("initiator left during setup"));
      c.metrics.circuitsTotal.inc({ result: "failed" });
      throw new HopStreamError("initiator left during setup");
    }
    c.metrics.circuitStopSeconds.observe((c.clock.monotonicMs() - stopOpenedAt) / 1000);
    c.metrics.circuitStopStreamsTotal.inc({ mode: stop.mode });
    reply(stream, { type: "STATUS", status: "OK", limit: this.#wireLimit });
    const circuit = new Circuit({
      src: hop.reader.unwrap(),
      dst: stop.stream,
      limit: this.#enforcedLimit,
      sourceKey: source.key,
      onEnd: this.#circuitEnded,
      peers: { source: source.peer, target: target.peer },
      flows: this.#flows(source.peer, source.ip),
      clock: c.clock,
    });
    c.circuits.add(circuit);
    c.metrics.circuitsTotal.inc({ result: "ok" });
    c.metrics.totals.circuitsOpened++;
    c.metrics.circuitSetupSeconds.observe((c.clock.monotonicMs() - hop.receivedAt) / 1000);
    c.onCircuitsChange?.();
    return true;
  }

  /** Bandwidth flows for both directions of a new circuit, charged to its initiator. */
  #flows(source: PeerId, ip: string | undefined) {
    const admission = this.#c.admission;
    if (admission === undefined) return undefined;
    const peer = source.toString();
    const up = admission.openFlow(peer, ip);
    if (up === undefined) return undefined;
    return { up, down: admission.openFlow(peer, ip) ?? up };
  }

  /** Warns once per handler (per relay start) that a STOP could not be pipelined. */
  #warnNotPipelined = (): void => {
    if (this.#warnedNotPipelined) return;
    this.#warnedNotPipelined = true;
    log.warn(
      "A STOP stream could not be pipelined (js-libp2p or its connection changed shape: see " +
        "src/host/pipelined_stream.ts); STOP streams are negotiated first, one round trip more",
    );
  };

  #circuitEnded = (circuit: Circuit, reason: CircuitEndReason, endedBy: CircuitEndedBy): void => {
    const c = this.#c;
    c.circuits.delete(circuit);
    c.slots.release(circuit.sourceKey);
    flushCircuitBytes(c.metrics, circuit);
    c.metrics.circuitsClosedTotal.inc({ reason });
    c.metrics.circuitEnded(
      endedBy,
      (c.clock.monotonicMs() - circuit.startedAt) / 1000,
      circuit.bytesSrcToDst + circuit.bytesDstToSrc,
    );
    if (reason === "reset") c.metrics.streamError("circuit", "reset");
    c.onCircuitsChange?.();
  };
}

/**
 * Moves a circuit's not-yet-counted bytes into the metrics.
 *
 * @param metrics The relay metrics.
 * @param circuit A live or ended circuit.
 */
export function flushCircuitBytes(metrics: RelayMetrics, circuit: Circuit): void {
  const up = circuit.bytesSrcToDst - circuit.flushedSrcToDst;
  const down = circuit.bytesDstToSrc - circuit.flushedDstToSrc;
  circuit.flushedSrcToDst += up;
  circuit.flushedDstToSrc += down;
  metrics.addBytes(up, down);
}

/** Sends one hop message; a stream that can no longer be written is left to its fate. */
function reply(stream: Stream, message: HopMessage): void {
  if (stream.writeStatus !== "writable") return;
  try {
    stream.send(encodeFrame(encodeHopMessage(message)));
  } catch {
    // The stream was reset under us; its handler has nothing left to answer.
  }
}

/** Closes our end after a final answer; resets if the peer has not closed its end in time. */
function closeGracefully(stream: Stream, timeoutMs: number, clock: Clock): void {
  const reset = (): void => stream.abort(new HopStreamError("peer did not close the stream"));
  stream.close().then(() => {
    if (stream.status === "closed" || stream.status === "aborted" || stream.status === "reset") {
      return;
    }
    const timer = clock.setTimeout(reset, timeoutMs > 0 ? timeoutMs : 10_000);
    stream.addEventListener("close", () => clock.clearTimeout(timer), { once: true });
  }, reset);
}
