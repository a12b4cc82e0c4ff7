/**
 * Protocol constants of the AutoNAT v1 server. Units are in the names.
 *
 * @module
 */

/** Protocol id of AutoNAT v1 (libp2p specs `autonat/autonat-v1.md`). */
export const AUTONAT_PROTOCOL = "/libp2p/autonat/1.0.0";
/** Largest AutoNAT message accepted (go-libp2p's limit). */
export const AUTONAT_MAX_MESSAGE_BYTES = 4_096;
/** Concurrent AutoNAT streams one connection may open (a client asks one at a time). */
export const AUTONAT_MAX_INBOUND_STREAMS = 2;
/** Time a client has to send its request and read the answer, besides the dial-backs. */
export const AUTONAT_STREAM_TIMEOUT_MS = 10_000;
