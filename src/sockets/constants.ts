/**
 * Internal constants of the socket guard (not configurable; the knobs are in the config
 * schema's [connections] and [http] sections).
 *
 * @module
 */

/** Descriptors a probe looks for beyond the reserve: one probe per this many new sockets. */
export const FD_PROBE_STEP = 256;
/** Re-probe free descriptors this often while far from the limit (others open files too). */
export const FD_RECHECK_FAR_MS = 30_000;
/** Re-probe free descriptors this often while near or past the reserve. */
export const FD_RECHECK_NEAR_MS = 1_000;
/** How often phase deadlines (header, handshake, request, idle) are checked. */
export const SWEEP_INTERVAL_MS = 250;
/** Longest gap between two checks of established connections' read idleness. */
export const ESTABLISHED_SWEEP_MAX_MS = 10_000;
/** A listener that accepted nothing for this long gets a loopback probe connection. */
export const ACCEPT_PROBE_INTERVAL_MS = 5_000;
/** A probe connection not accepted within this long means the listener stalled. */
export const ACCEPT_PROBE_TIMEOUT_MS = 2_000;
/** At most one summary log line of closed sockets per group this often. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** /ready reports file-descriptor refusals for this long after the last one. */
export const FD_REFUSAL_READY_WINDOW_MS = 5_000;
