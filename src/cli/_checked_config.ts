// Loading the config as `hopd run` and `hopd config check` do: the schema's checks
// (loadConfig), then the checks that read the disk the config points to.

import { loadConfig, type LoadConfigOptions, type ResolvedConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import { checkModeNames, describeUnknownModeNames } from "../policy/mod.ts";

/**
 * Loads and validates the config, then checks `policy.modes` against the policies
 * directory: a name that matches no policy there is a config error; when the directory does
 * not exist yet (the engine waits for it) the names cannot be judged and `warn` is told.
 *
 * @param options Where to read from.
 * @param warn Told what is suspicious but not an error.
 * @returns The resolved config.
 * @throws {ConfigError} When the config is invalid or `policy.modes` names an unknown policy.
 */
export async function loadCheckedConfig(
  options: LoadConfigOptions,
  warn: (message: string) => void,
): Promise<ResolvedConfig> {
  const config = await loadConfig(options);
  const modes = await checkModeNames(config.policy);
  if (modes.unknown.length > 0) {
    const message = describeUnknownModeNames(modes, config.policy.dir);
    if (modes.dirFound) throw new ConfigError(`Cannot load config as ${message}`);
    warn(message);
  }
  return config;
}
