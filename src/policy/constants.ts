/**
 * Internal bounds of the policy engine, with units in the names. They bound what a policy or
 * plugin can hand the host, whatever its code does; the configurable ones live in the config
 * schema (`policy.state_max_size`, `policy.memory_limit`, …).
 *
 * @module
 */

/** Lines of `console.log`/`ctx.log` one evaluation keeps; later lines are dropped. */
export const LOG_LINES_MAX = 20;
/** Characters one log line keeps; the rest is cut. */
export const LOG_LINE_MAX_CHARS = 1_000;
/** Characters of an error message kept from a failed load or call. */
export const ERROR_MESSAGE_MAX_CHARS = 1_000;
/**
 * Room in one call's answer (result, state and logs as JSON) besides `policy.state_max_size`:
 * the largest valid result (32 reasons of 500 characters, 32 actions) and the logs fit in it
 * with their JSON escapes.
 */
export const CALL_OUTPUT_ROOM_CHARS = 512 * 1024;
/** Largest answer of a fixture file's `cases` export (up to 500 cases with snapshots). */
export const CASES_OUTPUT_MAX_CHARS = 16 * 1024 * 1024;
/**
 * Time the sandbox gets to turn a thrown value into a message (its getters and `toString`
 * are the module's code): a value that never answers is cut off here, not by a worker kill.
 */
export const ERROR_DESCRIBE_BUDGET_MS = 50;
/** Decisions the engine keeps in memory for `GET /v1/decisions`. */
export const RECENT_DECISIONS_MAX = 500;
/** Bytes (as JSON) of the decisions kept in memory; the oldest go first past it. */
export const RECENT_DECISIONS_MAX_BYTES = 8 * 1024 * 1024;
/** Bytes (as JSON) of decisions one `GET /v1/decisions` answers at most. */
export const DECISIONS_RESPONSE_MAX_BYTES = 4 * 1024 * 1024;
/**
 * Notable decisions (an action that ran or would have, a verdict change) kept apart for
 * `GET /v1/decisions?notable=true`, so quiet ticks do not push them out.
 */
export const NOTABLE_DECISIONS_MAX = 200;
/** Bytes (as JSON) of the notable decisions kept in memory. */
export const NOTABLE_DECISIONS_MAX_BYTES = 2 * 1024 * 1024;
