/**
 * The plugin scoring seam: after the balancer ranked, an optional hook (the policy engine's
 * `score(candidates, hints)` plugins, wired by the daemon) may adjust the best candidates'
 * scores. It returns one finite delta per candidate (0 leaves a score alone); the candidates
 * are re-sorted by score + delta, and one whose adjusted score is 0 or less is dropped (the
 * balancer's scores are all positive, so a large negative delta excludes a relay). The hook
 * gets `SCORE_HOOK_TIMEOUT_MS` per selection; a hook that throws, times out or answers
 * anything else leaves the ranking unchanged, and the outcome is counted. A hook that
 * returns undefined (no plugin has a scorer) costs no wait.
 *
 * @module
 */

import type { Clock, TimerId } from "../clock/mod.ts";
import type {
  Algorithm,
  RankedRelay,
  RelayEntry,
  SelectHints,
  Selection,
} from "../balancer/mod.ts";

/** One candidate shown to the scoring hook: the relay as the balancer saw it, and its score. */
export interface SelectCandidate extends RelayEntry {
  /** The balancer's score. */
  readonly score: number;
}

/**
 * A scoring hook: one finite score delta per candidate, in order; undefined when it has no
 * opinion (nothing to wait for).
 *
 * @param candidates The balancer's best relays, best first.
 * @param hints What the client told.
 */
export type ScoreHook = (
  candidates: readonly SelectCandidate[],
  hints: SelectHints,
) => Promise<readonly number[]> | undefined;

/** How one call of the hook went ("none": it had no opinion). */
export type ScoreHookOutcome = "ok" | "none" | "error" | "timeout" | "invalid";

/** One call of a scoring hook on a ranking. */
export interface ScoreHookCall {
  /** The balancer's entry of a relay. */
  entryOf(peerId: string): RelayEntry | undefined;
  readonly hook: ScoreHook;
  /** What the client told. */
  readonly hints: SelectHints;
  /** How many relays to return. */
  readonly n: number;
  /** Time the hook may take. */
  readonly timeoutMs: number;
  /** The timeout runs on it. */
  readonly clock: Clock;
}

/**
 * Applies a scoring hook to a ranking.
 *
 * @param ranking The balancer's selection (its best candidates, more than `n` if wanted).
 * @param call The hook, what it is asked about, and the bounds of its answer.
 * @returns The final selection (the unchanged ranking cut to `n` unless the hook answered
 * well) and the outcome.
 */
export async function applyScoreHook(
  ranking: Selection,
  call: ScoreHookCall,
): Promise<{ selection: Selection; outcome: ScoreHookOutcome }> {
  const { entryOf, hook, hints, n, timeoutMs, clock } = call;
  const unchanged = (outcome: ScoreHookOutcome) => ({
    selection: cut(ranking.algorithm, ranking.relays, n),
    outcome,
  });
  if (ranking.relays.length === 0) return unchanged("ok");
  const candidates: SelectCandidate[] = [];
  for (const relay of ranking.relays) {
    const entry = entryOf(relay.peerId);
    if (entry !== undefined) candidates.push({ ...entry, score: relay.score });
  }
  let timer: TimerId | undefined;
  let deltas: readonly number[];
  try {
    const pending = hook(candidates, hints);
    if (pending === undefined) return unchanged("none");
    const timeout = new Promise<"timeout">((resolve) => {
      timer = clock.setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const answer = await Promise.race([pending, timeout]);
    if (answer === "timeout") return unchanged("timeout");
    deltas = answer;
  } catch {
    return unchanged("error");
  } finally {
    clock.clearTimeout(timer);
  }
  if (
    !Array.isArray(deltas) || deltas.length !== candidates.length ||
    !deltas.every((d) => typeof d === "number" && Number.isFinite(d))
  ) {
    return unchanged("invalid");
  }
  const rescored = candidates
    .map((candidate, i) => ({ candidate, score: candidate.score + deltas[i]!, i }))
    .filter((item) => item.score > 0)
    // Stable on ties: the balancer's order stands.
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ candidate, score }): RankedRelay =>
      candidate.region === undefined
        ? { peerId: candidate.peerId, addrs: candidate.addrs, score }
        : { peerId: candidate.peerId, addrs: candidate.addrs, score, region: candidate.region }
    );
  return { selection: cut(ranking.algorithm, rescored, n), outcome: "ok" };
}

function cut(algorithm: Algorithm, relays: readonly RankedRelay[], n: number): Selection {
  return { algorithm, relays: relays.slice(0, n) };
}
