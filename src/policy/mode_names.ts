/**
 * `policy.modes` names policies by file name ("restart_on_memory=dryrun"). A name that is a
 * near miss of a policy in the directory ("restart_on_memroy") is a typo that would leave the
 * real policy in the default mode: a config error (`hopd config check`, start, reload). A name
 * far from every policy may be a policy still to come (an operator sets `new=dryrun` before
 * dropping new.js in, so it never runs in enforce): a warning, and its mode applies when the
 * file appears. The engine logs again whenever the directory changes so that a name matches
 * nothing (a policy renamed or removed).
 *
 * @module
 */

import type { ResolvedPolicyConfig } from "../config/mod.ts";
import { moduleNameOf } from "./module_table.ts";

/** The names of `policy.modes` that match no policy, and the policies there are. */
export interface ModeNamesCheck {
  /** Names in `policy.modes` with no `<name>.js` in the policies directory, sorted. */
  readonly unknown: readonly string[];
  /** The unknown names that are near misses of a policy there, with that policy. */
  readonly typos: readonly { readonly name: string; readonly policy: string }[];
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
 * Edits (insert, delete, replace, swap two neighbours) between two names, counting a
 * difference of case, `_` or `-` as none.
 */
export function nameDistance(a: string, b: string): number {
  const x = a.toLowerCase().replace(/[_-]/g, "");
  const y = b.toLowerCase().replace(/[_-]/g, "");
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= y.length; j++) d[0]![j] = j;
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[x.length]![y.length]!;
}

/** Most edits between a mode's name and a policy's for the name to count as its typo. */
const TYPO_MAX_EDITS = 2;

/**
 * Checks the names of `policy.modes` against the given policies.
 *
 * @param modes `policy.modes`, resolved.
 * @param known The policies there are, or undefined when the directory does not exist.
 * @returns What matched nothing, and which of those are typos of a policy.
 */
export function modeNamesCheck(
  modes: ResolvedPolicyConfig["modes"],
  known: readonly string[] | undefined,
): ModeNamesCheck {
  const names = [...new Set(known ?? [])].sort();
  const unknown = Object.keys(modes).filter((name) => !names.includes(name)).sort();
  const typos = unknown.flatMap((name) => {
    const near = names.map((policy) => ({ policy, edits: nameDistance(name, policy) }))
      .filter((n) => n.edits <= TYPO_MAX_EDITS)
      .sort((a, b) => a.edits - b.edits)[0];
    return near === undefined ? [] : [{ name, policy: near.policy }];
  });
  return { unknown, typos, known: names, dirFound: known !== undefined };
}

/**
 * Checks `policy.modes` against the policies directory on disk.
 *
 * @param config `[policy]`, resolved.
 * @returns What matched nothing (nothing at all when the engine is disabled).
 */
export async function checkModeNames(config: ResolvedPolicyConfig): Promise<ModeNamesCheck> {
  if (!config.enabled || Object.keys(config.modes).length === 0) {
    return { unknown: [], typos: [], known: [], dirFound: true };
  }
  return modeNamesCheck(config.modes, await policyNamesIn(config.dir));
}

function quoted(names: readonly string[]): string {
  return names.map((name) => `'${name}'`).join(", ");
}

/**
 * The operator's sentence for the typos of a check (a config error).
 *
 * @param check A check with typos.
 * @param dir The policies directory.
 * @returns "'policy.modes' names … that match no policy in '…' (did you mean …?): known …".
 */
export function describeModeTypos(check: ModeNamesCheck, dir: string): string {
  const names = quoted(check.typos.map((t) => t.name));
  const meant = check.typos.map((t) => `'${t.policy}'`).join(", ");
  return `'policy.modes' names ${names} that match no policy in '${dir}' (did you mean ` +
    `${meant}?): known policies are ${check.known.join(", ")}`;
}

/**
 * The operator's sentence for unknown names that are not typos (a warning).
 *
 * @param check A check with unknown names.
 * @param dir The policies directory.
 * @returns What the names are waiting for, with the known policies.
 */
export function describePendingModeNames(check: ModeNamesCheck, dir: string): string {
  const typos = new Set(check.typos.map((t) => t.name));
  const pending = check.unknown.filter((name) => !typos.has(name));
  if (!check.dirFound) {
    return `'policy.modes' names ${quoted(pending)}, but the policies directory '${dir}' ` +
      "does not exist yet: the names are checked when it appears";
  }
  const known = check.known.length === 0 ? "none" : check.known.join(", ");
  return `'policy.modes' names ${quoted(pending)} that match no policy in '${dir}' yet: ` +
    `each mode applies when its file appears (known policies are ${known})`;
}
