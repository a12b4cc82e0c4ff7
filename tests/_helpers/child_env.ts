// The environment of a child process that runs hopd (directly or through a script).

/**
 * This process's environment without its `HOPD_*` variables, plus `extra`. hopd reads every
 * `HOPD_<SECTION>_<KEY>` as config and refuses names it does not know, so a variable the
 * developer's shell exported (a `HOPD_LIMITS_…` left from trying a setting) would silently
 * change, or break, what a test runs. Pass it with `clearEnv: true`.
 *
 * Under the test command's coverage run (`TEST_COVERAGE_DIR` set, as .ci/run does) it leaves
 * out `DENO_COVERAGE_DIR` too, which `deno test --coverage` sets and every `deno run` child
 * would honour: a hopd child then writes its own profile and runs about twice as slow, and only
 * the test processes are measured there. A `DENO_COVERAGE_DIR` given without
 * `TEST_COVERAGE_DIR` (measuring hopd children on purpose, README) is passed on.
 *
 * @param extra Variables to set (these may be `HOPD_*`).
 * @returns The environment.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(Deno.env.toObject())) {
    if (!name.startsWith("HOPD_")) env[name] = value;
  }
  if (env.TEST_COVERAGE_DIR !== undefined) delete env.DENO_COVERAGE_DIR;
  return { ...env, ...extra };
}
