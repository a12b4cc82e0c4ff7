/**
 * Loading the config as `hopd run` and `hopd config check` do: the schema's checks
 * (loadConfig), then the checks that read the disk the config points to.
 *
 * @module
 */

import { loadConfig, type LoadConfigOptions, type ResolvedConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import { checkModeNames, describeModeTypos, describePendingModeNames } from "../policy/mod.ts";

/**
 * Told about `policy.modes` names that match no policy but are no typo of one: policies
 * still to come (`dirFound` true) or a policies directory that does not exist yet (false).
 */
export type PendingModesWarning = (message: string, dirFound: boolean) => void;

/**
 * Loads and validates the config, then checks `policy.modes` against the policies
 * directory: a name that is a near miss of a policy there (a typo) is a config error; a name
 * far from every policy, or any name while the directory does not exist, goes to `warn`.
 *
 * @param options Where to read from.
 * @param warn Told about names that match no policy yet.
 * @returns The resolved config.
 * @throws {ConfigError} When the config is invalid or `policy.modes` has a typo.
 */
export async function loadCheckedConfig(
  options: LoadConfigOptions,
  warn: PendingModesWarning,
): Promise<ResolvedConfig> {
  const config = await loadConfig(options);
  const modes = await checkModeNames(config.policy);
  if (modes.typos.length > 0) {
    throw new ConfigError(`Cannot load config as ${describeModeTypos(modes, config.policy.dir)}`);
  }
  if (modes.unknown.length > 0) {
    warn(describePendingModeNames(modes, config.policy.dir), modes.dirFound);
  }
  return config;
}
