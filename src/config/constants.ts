/**
 * Internal constants of the config loader: the environment prefix of config overrides, the
 * identity file's name in the data directory and the systemd variable that names it.
 *
 * @module
 */

/** Prefix of the environment variables that override config keys: `HOPD_<SECTION>_<KEY>`. */
export const ENV_PREFIX = "HOPD_";
/** File name of the identity key inside the data dir when `node.identity_file` is empty. */
export const IDENTITY_FILE_NAME = "identity.key";
/** Environment variable systemd sets to the unit's StateDirectory. */
export const SYSTEMD_STATE_DIRECTORY_ENV = "STATE_DIRECTORY";
