// `policy.modes` names policies by file name ("restart_on_memory=dryrun"); a name that
// matches no policy is a typo that would leave the real policy in the default mode. The
// names are checked against the policies directory where its content is known: by
// `hopd config check` and at start and reload (a config error), and by the engine whenever
// the directory changes (a warning: the config was valid when it was loaded).

import type { ResolvedPolicyConfig } from "../config/mod.ts";
import { moduleNameOf } from "./module_table.ts";

/** The names of `policy.modes` that match no policy, and the policies there are. */
export interface ModeNamesCheck {
  /** Names in `policy.modes` with no `<name>.js` in the policies directory, sorted. */
  readonly unknown: readonly string[];
  /** Policies in the directory, sorted. */
  readonly known: readonly string[];
  /** False when the directory does not exist (yet): the names cannot be judged. */
  readonly dirFound: boolean;
}

/**
 * Lists the policy names of a directory (`<name>.js`, fixtures excluded).
 *
 * @param dir The policies directory.
 * @returns The sorted names, or undefined when the directory does not exist.
 * @throws {Deno.errors.PermissionDenied} When it cannot be read.
 */
export async function policyNamesIn(dir: string): Promise<string[] | undefined> {
  const names = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const name = entry.isFile && !entry.name.endsWith("_test.js")
        ? moduleNameOf(entry.name)
        : undefined;
      if (name !== undefined) names.add(name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return [...names].sort();
}

/**
 * Checks the names of `policy.modes` against the given policies.
 *
 * @param modes `policy.modes`, resolved.
 * @param known The policies there are, or undefined when the directory does not exist.
 * @returns What matched nothing.
 */
export function modeNamesCheck(
  modes: ResolvedPolicyConfig["modes"],
  known: readonly string[] | undefined,
): ModeNamesCheck {
  const names = new Set(known ?? []);
  return {
    unknown: Object.keys(modes).filter((name) => !names.has(name)).sort(),
    known: [...names].sort(),
    dirFound: known !== undefined,
  };
}

/**
 * Checks `policy.modes` against the policies directory on disk.
 *
 * @param config `[policy]`, resolved.
 * @returns What matched nothing (nothing at all when the engine is disabled).
 */
export async function checkModeNames(config: ResolvedPolicyConfig): Promise<ModeNamesCheck> {
  if (!config.enabled || Object.keys(config.modes).length === 0) {
    return { unknown: [], known: [], dirFound: true };
  }
  return modeNamesCheck(config.modes, await policyNamesIn(config.dir));
}

/**
 * The operator's sentence for names that match no policy.
 *
 * @param check A check with unknown names.
 * @param dir The policies directory.
 * @returns "'policy.modes' names … that match no policy in '…': known policies are …".
 */
export function describeUnknownModeNames(check: ModeNamesCheck, dir: string): string {
  const names = check.unknown.map((name) => `'${name}'`).join(", ");
  if (!check.dirFound) {
    return `'policy.modes' names ${names}, but the policies directory '${dir}' does not exist ` +
      "yet: the names are checked when it appears";
  }
  const known = check.known.length === 0 ? "none" : check.known.join(", ");
  return `'policy.modes' names ${names} that match no policy in '${dir}': ` +
    `known policies are ${known}`;
}
