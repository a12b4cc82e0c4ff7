/**
 * Internal constants of the ACME client (not configurable; the knobs are the config's
 * `[acme]` section): where it keeps its files, how it backs off and rechecks, its HTTP timeout.
 *
 * @module
 */

/** Folder under `node.data_dir` holding the ACME account key and the certificate. */
export const ACME_DIR_NAME = "acme";
/** First delay after a failed order; doubled per failure in a row (with jitter). */
export const ACME_RETRY_INITIAL_MS = 60_000;
/** Longest delay between two attempts while orders keep failing. */
export const ACME_RETRY_MAX_MS = 3_600_000;
/**
 * Longest single timer: a renewal 60 days away is re-checked at least this often, which
 * also outlives timers' 24.8-day limit and a host clock that jumped (suspend, NTP step).
 */
export const ACME_RECHECK_MAX_MS = 12 * 3_600_000;
/** Timeout of one HTTP request to the CA (acme-client's axios instance). */
export const ACME_HTTP_TIMEOUT_MS = 30_000;
/** The http-01 challenge path prefix (RFC 8555 §8.3). */
export const HTTP01_PATH_PREFIX = "/.well-known/acme-challenge/";
