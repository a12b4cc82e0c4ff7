// The environment of a child process that runs hopd (directly or through a script).

/**
 * This process's environment without its `HOPD_*` variables, plus `extra`. hopd reads every
 * `HOPD_<SECTION>_<KEY>` as config and refuses names it does not know, so a variable the
 * developer's shell exported (a `HOPD_LIMITS_…` left from trying a setting) would silently
 * change, or break, what a test runs. Pass it with `clearEnv: true`.
 *
 * @param extra Variables to set (these may be `HOPD_*`).
 * @returns The environment.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    if (!name.startsWith("HOPD_")) env[name] = value;
  }
  return { ...env, ...extra };
}
