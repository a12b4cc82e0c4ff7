/**
 * Defaults and bounds of the federation, with units in the names.
 *
 * @module
 */

/** Gossipsub topic the load reports travel on. */
export const DEFAULT_FEDERATION_TOPIC = "hopd/federation/1";
/** libp2p protocol of relay selection for clients already connected. */
export const SELECT_PROTOCOL = "/hopd/select/1.0.0";
/** Default report interval. */
export const DEFAULT_REPORT_INTERVAL_MS = 1_000;
/** Default silence, in report intervals, after which a member is suspect (out of selections). */
export const DEFAULT_SUSPECT_AFTER_INTERVALS = 2;
/** Default silence, in report intervals, after which a member is dead. */
export const DEFAULT_DEAD_AFTER_INTERVALS = 2.5;
/** A dead member is forgotten (dropped from the view) after this many intervals. */
export const FORGET_AFTER_INTERVALS = 300;
/** The view checks staleness this many times per report interval. */
export const VIEW_TICKS_PER_INTERVAL = 20;
/** How far a report's send time may be ahead of, or beyond the dead limit behind, our clock. */
export const MAX_CLOCK_SKEW_MS = 5_000;

/** Most multiaddrs one report may carry. */
export const MAX_REPORT_ADDRS = 16;
/** Longest multiaddr in a report, in bytes. */
export const MAX_REPORT_ADDR_BYTES = 256;
/** Longest region name, in characters. */
export const MAX_REPORT_REGION_CHARS = 64;
/** Largest report gossipsub accepts on the topic, in bytes (a report is about 150). */
export const MAX_REPORT_BYTES = 4_096;

/** First redial delay of a lost member; doubles per failure up to the maximum. */
export const MEMBER_DIAL_BACKOFF_INITIAL_MS = 500;
/** Longest redial delay of a lost member. */
export const MEMBER_DIAL_BACKOFF_MAX_MS = 30_000;
/** Peer store tag that keeps member connections from being pruned. */
export const MEMBER_TAG = "hopd-federation-member";
/** Value of {@linkcode MEMBER_TAG} (the connection manager prunes low values first). */
export const MEMBER_TAG_VALUE = 100;
/**
 * Gossipsub application score of a non-member peer: below the publish threshold (-50), so
 * reports are neither published nor forwarded to it and it is kept out of the mesh, but
 * above the graylist threshold (-80), so what it publishes still reaches the topic
 * validator, which rejects and counts it.
 */
export const NON_MEMBER_APP_SCORE = -60;

/** How often each connected member is pinged for its RTT. */
export const RTT_PROBE_INTERVAL_MS = 10_000;
/** How long one RTT ping may take. */
export const RTT_PROBE_TIMEOUT_MS = 5_000;

/** Largest request on {@linkcode SELECT_PROTOCOL}, in bytes. */
export const SELECT_MAX_REQUEST_BYTES = 1_024;
/** Time a client has to send its request and read the answer on {@linkcode SELECT_PROTOCOL}. */
export const SELECT_STREAM_TIMEOUT_MS = 5_000;
/** Concurrent {@linkcode SELECT_PROTOCOL} streams per connection. */
export const SELECT_MAX_INBOUND_STREAMS = 4;

/** Time the plugin scoring hook may take per selection before the ranking is used as is. */
export const SCORE_HOOK_TIMEOUT_MS = 25;
/** Candidates handed to the scoring hook per selection (the balancer's best). */
export const SCORE_HOOK_CANDIDATES = 16;

/** At most one "reservation refused, alternatives: …" log line per this interval. */
export const REFUSAL_LOG_INTERVAL_MS = 1_000;
