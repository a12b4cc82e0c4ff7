/**
 * Protocol constants and internal (not configurable) constants of the circuit relay v2
 * server. Units are in the names. Every configurable default is in the config schema
 * (`[relay]` in src/config/schema.ts).
 *
 * @module
 */

/** Protocol id of the hop protocol (clients to relay). */
export const HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop";
/** Protocol id of the stop protocol (relay to the reserved target). */
export const STOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/stop";

/** Domain separation string of the reservation voucher envelope (spec: Reservation Vouchers). */
export const VOUCHER_DOMAIN = "libp2p-relay-rsvp";
/** Multicodec of the voucher payload type, `/libp2p/relay-rsvp` = 0x0302, as varint bytes. */
export const VOUCHER_PAYLOAD_TYPE: Uint8Array = Uint8Array.of(0x03, 0x02);

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

/**
 * Largest piece a shaped circuit forwards before asking the bandwidth shaper again, in bytes.
 * Small enough that a cap holds over sub-second windows, large enough to keep timers rare.
 */
export const SHAPING_QUANTUM_BYTES = 16_384;

/**
 * Chunks of a circuit smaller than this that arrive in one task go on together with one
 * `send` (src/relay/circuit.ts); larger ones go on as they are, since joined with others they
 * would straddle yamux frames. 32 KiB: above rust-libp2p's 16 KiB frames, below a 64 KiB one.
 */
export const BATCH_CHUNK_MAX_BYTES = 32 * 1024;

/**
 * What `Relay.events` dispatches (plain `Event`s, after the change, so `stats()`
 * already reads it): for a caller that waits for the relay's state to change instead of
 * polling `stats()`.
 */
export const RELAY_EVENTS = {
  /** A reservation was added, renewed or removed (expired, freed, dropped on stop). */
  reservation: "reservation",
  /** A circuit opened or closed. */
  circuit: "circuit",
  /** A hop or stop stream failed (bad bytes, a timeout, a peer reset): `streamErrors` grew. */
  streamError: "stream-error",
} as const;
