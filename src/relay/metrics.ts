/**
 * Prometheus metrics of the relay, registered on the registry the daemon passes in. Gauges
 * read live state at scrape time; relayed bytes are kept as plain numbers on each circuit and
 * flushed into the counter when the circuit ends and at every scrape, so the data path never
 * touches a counter per chunk.
 *
 * @module
 */

import type { Counter, CounterSeries, Histogram, MetricsRegistry } from "../metrics/mod.ts";
import type { CircuitEndedBy } from "./circuit.ts";

/** Label values of `hopd_relayed_bytes_total{direction}`. */
export type Direction = "src_to_dst" | "dst_to_src";
/** Label values of `hopd_relay_stream_errors_total{protocol}`. */
export type StreamProtocol = "hop" | "stop" | "circuit";

/** Live state the gauges read at scrape time. */
export interface RelayMetricsSource {
  reservations(): number;
  circuits(): number;
  /** Moves bytes counted on live circuits into the counter (called before each scrape). */
  flushBytes(): void;
  /** Told after each stream error is counted. */
  onStreamError?(): void;
}

// Fine around the 5 ms setup goal, so its quantiles can be read from the buckets.
const SETUP_BUCKETS_S = [
  0.0005,
  0.001,
  0.002,
  0.003,
  0.004,
  0.005,
  0.0075,
  0.01,
  0.015,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
  5,
];
// Fine in the first seconds, where a circuit that a hole punch replaced ends; then out to
// the default 2 min duration limit and beyond (the limit is configurable).
const DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 3600];
// Bytes per circuit (both directions): a DCUtR exchange is a few KiB (security and muxer
// handshakes, identify, the CONNECT/SYNC messages); 128 KiB is the default data limit of
// one direction, 256 KiB of both.
const KIB = 1024;
const MIB = 1024 * KIB;
const CIRCUIT_BYTES_BUCKETS = [
  KIB,
  4 * KIB,
  16 * KIB,
  64 * KIB,
  128 * KIB,
  256 * KIB,
  MIB,
  4 * MIB,
  16 * MIB,
  64 * MIB,
  256 * MIB,
  1024 * MIB,
];
const ENDED_BY: readonly CircuitEndedBy[] = ["initiator", "target", "relay"];

/** The relay's metrics, plus running totals for `Relay.stats()`. */
export class RelayMetrics {
  readonly reservationsTotal: Counter<"result">;
  readonly circuitsTotal: Counter<"result">;
  readonly circuitsClosedTotal: Counter<"reason">;
  readonly relayedBytesTotal: Counter<"direction">;
  readonly circuitSetupSeconds: Histogram;
  readonly circuitStopSeconds: Histogram;
  readonly circuitStopStreamsTotal: Counter;
  readonly circuitDurationSeconds: Histogram<"ended_by">;
  readonly circuitBytes: Histogram<"ended_by">;
  readonly refusalsTotal: Counter<"reason">;
  readonly streamErrorsTotal: Counter<"protocol" | "reason">;
  readonly bytesSrcToDst: CounterSeries;
  readonly bytesDstToSrc: CounterSeries;

  /** Running totals (also in the counters; kept as numbers for cheap stats). */
  totals = {
    reservationsAccepted: 0,
    circuitsOpened: 0,
    refusals: 0,
    streamErrors: 0,
    bytesRelayed: 0,
  };

  readonly #source: RelayMetricsSource;

  /**
   * @param registry Registry to register on (one relay per registry).
   * @param source Live state read at scrape time.
   */
  constructor(registry: MetricsRegistry, source: RelayMetricsSource) {
    this.#source = source;
    registry.gauge({
      name: "hopd_reservations_active",
      help: "Reservations currently held.",
      collect() {
        this.set(source.reservations());
      },
    });
    registry.gauge({
      name: "hopd_circuits_active",
      help: "Circuits currently relaying.",
      collect() {
        this.set(source.circuits());
      },
    });
    this.reservationsTotal = registry.counter({
      name: "hopd_reservations_total",
      help: "RESERVE requests by result (created, renewed, refused, failed).",
      labelNames: ["result"],
    });
    this.circuitsTotal = registry.counter({
      name: "hopd_circuits_total",
      help: "CONNECT requests by result (ok, refused, failed).",
      labelNames: ["result"],
    });
    this.circuitsClosedTotal = registry.counter({
      name: "hopd_circuits_closed_total",
      help: "Circuits ended, by reason (closed, reset, data_limit, duration_limit, stopped).",
      labelNames: ["reason"],
    });
    this.relayedBytesTotal = registry.counter({
      name: "hopd_relayed_bytes_total",
      help: "Bytes relayed, by direction (src_to_dst: initiator to target).",
      labelNames: ["direction"],
      collect() {
        source.flushBytes();
      },
    });
    this.circuitSetupSeconds = registry.histogram({
      name: "hopd_circuit_setup_seconds",
      help: "Time from CONNECT received to STATUS OK sent.",
      buckets: SETUP_BUCKETS_S,
    });
    this.circuitStopSeconds = registry.histogram({
      name: "hopd_circuit_stop_seconds",
      help: "Time from the STOP stream opened to the target's STATUS OK read: the target's " +
        "round trip inside hopd_circuit_setup_seconds.",
      buckets: SETUP_BUCKETS_S,
    });
    this.circuitStopStreamsTotal = registry.counter({
      name: "hopd_circuit_stop_streams_total",
      help: "STOP streams the target answered OK, by how they were opened (pipelined: " +
        "negotiation and CONNECT in one write; negotiated: negotiation first).",
      labelNames: ["mode"],
    });
    this.circuitDurationSeconds = registry.histogram({
      name: "hopd_circuit_duration_seconds",
      help: "Life of a circuit, from STATUS OK to both streams closed, by who ended it " +
        "(initiator, target: that peer closed or reset its side first; relay: a limit or a stop).",
      labelNames: ["ended_by"],
      buckets: DURATION_BUCKETS_S,
    });
    this.circuitBytes = registry.histogram({
      name: "hopd_circuit_bytes",
      help: "Bytes relayed over a circuit in its life, both directions, by who ended it.",
      labelNames: ["ended_by"],
      buckets: CIRCUIT_BYTES_BUCKETS,
    });
    for (const endedBy of ENDED_BY) {
      // Zero series from the start, so rate() and the dashboard see every kind at once.
      this.circuitDurationSeconds.zero({ ended_by: endedBy });
      this.circuitBytes.zero({ ended_by: endedBy });
    }
    this.refusalsTotal = registry.counter({
      name: "hopd_refusals_total",
      help: "Reservations and circuits refused, by reason.",
      labelNames: ["reason"],
    });
    this.streamErrorsTotal = registry.counter({
      name: "hopd_relay_stream_errors_total",
      help: "Hop/stop/circuit streams reset for bad bytes, timeouts or peer resets.",
      labelNames: ["protocol", "reason"],
    });
    this.bytesSrcToDst = this.relayedBytesTotal.labels({ direction: "src_to_dst" });
    this.bytesDstToSrc = this.relayedBytesTotal.labels({ direction: "dst_to_src" });
  }

  /** Counts a refusal of a reservation or circuit. */
  refusal(reason: string): void {
    this.refusalsTotal.inc({ reason });
    this.totals.refusals++;
  }

  /** Counts a stream reset for bad bytes, a timeout or a peer reset. */
  streamError(protocol: StreamProtocol, reason: string): void {
    this.streamErrorsTotal.inc({ protocol, reason });
    this.totals.streamErrors++;
    this.#source.onStreamError?.();
  }

  /**
   * Records an ended circuit's life and size.
   *
   * @param endedBy Who ended it.
   * @param durationS Its life in seconds.
   * @param bytes Bytes it relayed, both directions.
   */
  circuitEnded(endedBy: CircuitEndedBy, durationS: number, bytes: number): void {
    this.circuitDurationSeconds.observe({ ended_by: endedBy }, durationS);
    this.circuitBytes.observe({ ended_by: endedBy }, bytes);
  }

  /** Adds relayed bytes (batched: called per circuit end or scrape, not per chunk). */
  addBytes(srcToDst: number, dstToSrc: number): void {
    if (srcToDst > 0) this.bytesSrcToDst.inc(srcToDst);
    if (dstToSrc > 0) this.bytesDstToSrc.inc(dstToSrc);
    this.totals.bytesRelayed += srcToDst + dstToSrc;
  }
}
