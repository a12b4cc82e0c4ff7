/**
 * Defaults and protocol constants of the circuit relay v2 server. Units are in the names.
 *
 * @module
 */

import type { ResolvedRelayConfig } from "./mod.ts";

/** Protocol id of the hop protocol (clients to relay). */
export const HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop";
/** Protocol id of the stop protocol (relay to the reserved target). */
export const STOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/stop";

/** Domain separation string of the reservation voucher envelope (spec: Reservation Vouchers). */
export const VOUCHER_DOMAIN = "libp2p-relay-rsvp";
/** Multicodec of the voucher payload type, `/libp2p/relay-rsvp` = 0x0302, as varint bytes. */
export const VOUCHER_PAYLOAD_TYPE: Uint8Array = Uint8Array.of(0x03, 0x02);

/** How long a reservation lasts before the client must renew it. */
export const RESERVATION_TTL_MS = 3_600_000;
/** Most reservations held at once. */
export const MAX_RESERVATIONS = 16_384;
/** Most reservations held by peers connecting from one IP address. */
export const MAX_RESERVATIONS_PER_IP = 32;
/** Most reservations held by peers connecting from one subnet. */
export const MAX_RESERVATIONS_PER_SUBNET = 128;
/** IPv4 prefix length that makes a subnet. */
export const SUBNET_PREFIX_V4 = 24;
/** IPv6 prefix length that makes a subnet. */
export const SUBNET_PREFIX_V6 = 48;
/** Most circuits open at once. */
export const MAX_CIRCUITS = 4_096;
/** Most circuits one source peer may have open at once. */
export const MAX_CIRCUITS_PER_PEER = 16;
/** Longest life of a circuit; advertised in whole seconds (spec unit). */
export const CIRCUIT_DURATION_MS = 120_000;
/** Most bytes relayed per direction of a circuit (spec unit). */
export const CIRCUIT_DATA_BYTES = 131_072;
/** Time a peer has to complete a hop or stop exchange. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Largest hop/stop protobuf message accepted (spec: 4 KiB). */
export const MAX_MESSAGE_BYTES = 4_096;

/** How often expired reservations are swept (lookups also check expiry, so this only frees counts). */
export const RESERVATION_SWEEP_INTERVAL_MS = 1_000;
/** After a limit cuts a circuit, how long the peers get to close their ends before a reset. */
export const CIRCUIT_CLOSE_GRACE_MS = 5_000;
/**
 * Read buffer allowed on a relayed stream while it is paused for backpressure. A paused yamux
 * stream stops granting window, so the remote can still send up to its window (16 MiB at most);
 * the stock 4 MiB cap would reset a circuit that is merely slow.
 */
export const CIRCUIT_READ_BUFFER_BYTES = 17 * 1024 * 1024;
/** Concurrent inbound hop streams per connection (each open circuit holds one). */
export const HOP_MAX_INBOUND_STREAMS = 1_024;
/** Concurrent outbound stop streams per connection to a target (each open circuit holds one). */
export const STOP_MAX_OUTBOUND_STREAMS = 1_024;
/** Most addresses accepted in one Peer or Reservation message. */
export const MAX_ADDRS_PER_MESSAGE = 64;

/** Every default in one object, for the config layer to reuse. */
export const DEFAULT_RELAY_CONFIG: ResolvedRelayConfig = Object.freeze({
  reservationTtlMs: RESERVATION_TTL_MS,
  maxReservations: MAX_RESERVATIONS,
  maxReservationsPerIp: MAX_RESERVATIONS_PER_IP,
  maxReservationsPerSubnet: MAX_RESERVATIONS_PER_SUBNET,
  subnetPrefixV4: SUBNET_PREFIX_V4,
  subnetPrefixV6: SUBNET_PREFIX_V6,
  maxCircuits: MAX_CIRCUITS,
  maxCircuitsPerPeer: MAX_CIRCUITS_PER_PEER,
  circuitDurationMs: CIRCUIT_DURATION_MS,
  circuitDataBytes: CIRCUIT_DATA_BYTES,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  maxMessageBytes: MAX_MESSAGE_BYTES,
  stopPipelining: true,
});

/**
 * Largest piece a shaped circuit forwards before asking the bandwidth shaper again, in bytes.
 * Small enough that a cap holds over sub-second windows, large enough to keep timers rare.
 */
export const SHAPING_QUANTUM_BYTES = 16_384;
