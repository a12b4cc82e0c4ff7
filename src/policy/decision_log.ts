/**
 * The decision log: one ndjson record per evaluation (and one per tick for the snapshot it
 * judged, so `hopd policy replay` can shadow a candidate), written to
 * <data_dir>/decisions.ndjson, rotated by size to decisions.ndjson.1 … .N. The newest
 * decisions are also kept in memory for GET /v1/decisions.
 *
 * @module
 */

import { join } from "node:path";
import type { Action, PolicyMode, Snapshot, Verdict } from "./types.ts";
import type { SuppressedBy } from "./rails.ts";
import {
  NOTABLE_DECISIONS_MAX,
  NOTABLE_DECISIONS_MAX_BYTES,
  RECENT_DECISIONS_MAX,
  RECENT_DECISIONS_MAX_BYTES,
} from "./constants.ts";

/** What happened to one asked-for action. */
export type ActionOutcome = "executed" | "dryrun" | "warned" | "suppressed";

/** An action with what the host did with it. */
export type DecidedAction = Action & {
  readonly outcome: ActionOutcome;
  readonly suppressedBy?: SuppressedBy;
  readonly error?: string;
};

/** One evaluation of one policy. */
export interface DecisionRecord {
  /** Tells a decision line from a snapshot line in the log. */
  readonly type: "decision";
  /** Unique ID of the decision (`GET /v1/decisions/{id}`). */
  readonly id: string;
  /** When it was made, ISO 8601. */
  readonly time: string;
  /** The engine tick it belongs to (its snapshot has the same tick). */
  readonly tick: number;
  /** The policy's name (its file name without `.js`). */
  readonly policy: string;
  /** The revision (content hash) of the policy that decided. */
  readonly revision: string;
  /** The mode the decision was applied in. */
  readonly mode: PolicyMode;
  /** The seed of `ctx.random` for this evaluation, so a replay draws the same numbers. */
  readonly seed: number;
  /** The verdict the policy returned; absent when it failed. */
  readonly verdict?: Verdict;
  /** The verdict after hysteresis (what /ready and the metric saw). */
  readonly effectiveVerdict?: Verdict;
  /** Set when the effective verdict differs from the policy's previous one. */
  readonly verdictChange?: { readonly from: Verdict; readonly to: Verdict };
  /** The reasons the policy gave. */
  readonly reasons: readonly string[];
  /** The actions it asked for, each with what the host did with it. */
  readonly actions: readonly DecidedAction[];
  /** How long the evaluation ran, in ms. */
  readonly durationMs: number;
  /** Why the evaluation failed, when it did. */
  readonly error?: string;
  /** The kind of failure (compile, runtime, timeout, memory, invalid result…). */
  readonly errorKind?: string;
  /** Lines the policy logged with `ctx.log` during the evaluation. */
  readonly logs?: readonly string[];
}

/** The snapshot one tick judged. */
export interface SnapshotRecord {
  /** Tells a snapshot line from a decision line in the log. */
  readonly type: "snapshot";
  /** The engine tick; the decisions of that tick carry the same number. */
  readonly tick: number;
  /** When it was taken, ISO 8601. */
  readonly time: string;
  /** What every policy judged at that tick. */
  readonly snapshot: Snapshot;
}

/** Options of a {@linkcode DecisionLog}. */
export interface DecisionLogInit {
  /** Directory of decisions.ndjson; undefined = memory only. */
  readonly dir?: string;
  /** Size at which the file rotates; 0 = no file. */
  readonly maxBytes: number;
  /** Rotated files kept. */
  readonly files: number;
  /** Decisions kept in memory. @default RECENT_DECISIONS_MAX (500) */
  readonly recent?: number;
  /** Bytes (as JSON) of the decisions kept in memory. @default RECENT_DECISIONS_MAX_BYTES */
  readonly recentBytes?: number;
  readonly onError?: (message: string) => void;
}

/** File name of the decision log inside the data dir. */
export const DECISION_LOG_FILE = "decisions.ndjson";

/** Newest decisions first, as many as fit the asked bounds. */
export interface RecentDecisions {
  /** The decisions, newest first. */
  readonly decisions: DecisionRecord[];
  /** Fewer than `limit` because `maxBytes` was reached (older ones matched too). */
  readonly truncated: boolean;
}

/**
 * Whether a decision did something an operator looks for in "Recent actions": an action ran
 * (or would have, in warn or dryrun mode), or the policy's verdict changed. A healthy tick
 * without actions, or an action the rails held back, is not.
 */
export function isNotable(record: DecisionRecord): boolean {
  return record.verdictChange !== undefined ||
    record.actions.some((action) => action.outcome !== "suppressed");
}

/** The newest decisions in memory, bounded in count and in bytes of JSON. */
class RecentRing {
  /** Oldest first, each with its size as JSON. */
  readonly #kept: { readonly record: DecisionRecord; readonly bytes: number }[] = [];
  readonly #max: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(max: number, maxBytes: number) {
    this.#max = max;
    this.#maxBytes = maxBytes;
  }

  push(record: DecisionRecord, bytes: number): void {
    this.#kept.push({ record, bytes });
    this.#bytes += bytes;
    while (
      this.#kept.length > this.#max || (this.#bytes > this.#maxBytes && this.#kept.length > 1)
    ) {
      this.#bytes -= this.#kept.shift()!.bytes;
    }
  }

  newest(limit: number, policy: string | undefined, maxBytes: number): RecentDecisions {
    const decisions: DecisionRecord[] = [];
    let bytes = 0;
    for (let i = this.#kept.length - 1; i >= 0; i--) {
      const kept = this.#kept[i]!;
      if (policy !== undefined && kept.record.policy !== policy) continue;
      if (decisions.length === limit) break;
      if (bytes + kept.bytes > maxBytes) return { decisions, truncated: true };
      decisions.push(kept.record);
      bytes += kept.bytes;
    }
    return { decisions, truncated: false };
  }
}

/** Appends records to a size-rotated ndjson file and keeps the newest in memory. */
export class DecisionLog {
  readonly #init: DecisionLogInit;
  readonly #recent: RecentRing;
  readonly #notable = new RecentRing(NOTABLE_DECISIONS_MAX, NOTABLE_DECISIONS_MAX_BYTES);
  #file: Deno.FsFile | undefined;
  #size = 0;
  #chain: Promise<void> = Promise.resolve();
  readonly #encoder = new TextEncoder();

  constructor(init: DecisionLogInit) {
    this.#init = init;
    this.#recent = new RecentRing(
      init.recent ?? RECENT_DECISIONS_MAX,
      init.recentBytes ?? RECENT_DECISIONS_MAX_BYTES,
    );
  }

  /** The path of the live file, if any. */
  get path(): string | undefined {
    return this.#init.dir === undefined || this.#init.maxBytes === 0
      ? undefined
      : join(this.#init.dir, DECISION_LOG_FILE);
  }

  /** Queues records for the file (in order) and remembers decisions. */
  append(records: readonly (DecisionRecord | SnapshotRecord)[]): void {
    const lines = records.map((r) => JSON.stringify(r));
    records.forEach((record, i) => {
      if (record.type !== "decision") return;
      const bytes = lines[i]!.length;
      this.#recent.push(record, bytes);
      if (isNotable(record)) this.#notable.push(record, bytes);
    });
    if (this.path === undefined || records.length === 0) return;
    const text = lines.join("\n") + "\n";
    this.#chain = this.#chain.then(() => this.#write(text)).catch((error) => {
      this.#init.onError?.(`cannot write ${this.path}: ${(error as Error).message}`);
      this.#file?.close();
      this.#file = undefined;
    });
  }

  /**
   * Newest decisions first, at most `limit` of them and at most `maxBytes` of JSON together.
   *
   * @param limit Most decisions.
   * @param filter Only one policy's; only notable ones ({@linkcode isNotable}, kept apart so
   *   quiet ticks do not push them out).
   * @param maxBytes Most bytes of JSON.
   */
  recent(
    limit: number,
    filter: { readonly policy?: string; readonly notable?: boolean } = {},
    maxBytes = Infinity,
  ): RecentDecisions {
    return (filter.notable ? this.#notable : this.#recent).newest(limit, filter.policy, maxBytes);
  }

  /** Waits for queued writes and closes the file. */
  async close(): Promise<void> {
    await this.#chain;
    this.#file?.close();
    this.#file = undefined;
  }

  async #write(text: string): Promise<void> {
    const path = this.path!;
    const bytes = this.#encoder.encode(text);
    if (this.#file === undefined) {
      this.#file = await Deno.open(path, { create: true, append: true, mode: 0o600 });
      this.#size = (await this.#file.stat()).size;
    }
    if (this.#size > 0 && this.#size + bytes.byteLength > this.#init.maxBytes) {
      this.#file.close();
      this.#file = undefined;
      await this.#rotate(path);
      this.#file = await Deno.open(path, { create: true, append: true, mode: 0o600 });
      this.#size = 0;
    }
    let written = 0;
    while (written < bytes.byteLength) written += await this.#file.write(bytes.subarray(written));
    this.#size += bytes.byteLength;
  }

  async #rotate(path: string): Promise<void> {
    const keep = this.#init.files;
    await Deno.remove(`${path}.${keep}`).catch(() => {});
    for (let i = keep - 1; i >= 1; i--) {
      await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
    }
    await Deno.rename(path, `${path}.1`);
  }
}

/**
 * Reads a decision log back (for `hopd policy replay`): snapshots in order, and decisions.
 * Lines that are not valid records are counted and skipped.
 */
export function parseDecisionLog(text: string): {
  snapshots: SnapshotRecord[];
  decisions: DecisionRecord[];
  skipped: number;
} {
  const snapshots: SnapshotRecord[] = [];
  const decisions: DecisionRecord[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const record = JSON.parse(line) as DecisionRecord | SnapshotRecord;
      if (record.type === "snapshot" && typeof record.snapshot === "object") snapshots.push(record);
      else if (record.type === "decision") decisions.push(record);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { snapshots, decisions, skipped };
}
