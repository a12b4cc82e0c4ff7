/** Process exit codes; the CLI is the one place that maps outcomes to them. */
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

/** `hopd health` outcomes. */
export const HEALTH_READY = 0;
export const HEALTH_NOT_READY = 1;
export const HEALTH_UNREACHABLE = 2;
