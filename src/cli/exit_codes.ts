/**
 * The process's exit codes. The CLI is the one place that maps outcomes to them
 * (sysexits where one fits: 75 temporary failure, 78 configuration error).
 *
 * @module
 */

/** Success. */
export const EXIT_OK = 0;
/** A runtime failure: a listener could not bind, the node crashed, a file could not be written. */
export const EXIT_FAILURE = 1;
/** Bad usage: unknown command or flag, missing argument. (`hopd health`: unreachable.) */
export const EXIT_USAGE = 2;
/**
 * A policy asked for a graceful restart (the node drained, then exited): systemd's
 * `Restart=on-failure` starts it again (sysexits.h EX_TEMPFAIL).
 */
export const EXIT_POLICY_RESTART = 75;
/** Invalid configuration or identity (sysexits.h EX_CONFIG). */
export const EXIT_CONFIG = 78;

/** `hopd health`: the node answered /ready with 200 and `ready: true`. */
export const HEALTH_READY = 0;
/** `hopd health`: the node answered but is not ready (starting, draining, a policy's verdict). */
export const HEALTH_NOT_READY = 1;
/** `hopd health`: no answer in time, or an answer that is not hopd's /ready. */
export const HEALTH_UNREACHABLE = 2;
