/**
 * A snapshot of a healthy, idle node: the base that fixture cases, `hopd policy eval` and the
 * benchmarks merge their own values onto, so a fixture states only what matters to it.
 *
 * @module
 */

import { defaultSnapshotLimits } from "./snapshot_limits.ts";
import type { Snapshot } from "./types.ts";

/** A complete snapshot of an idle, healthy node running the default config. */
export function exampleSnapshot(nowMs = Date.UTC(2026, 0, 1)): Snapshot {
  return {
    now: nowMs,
    tick: 1,
    node: {
      peerId: "12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi",
      uptimeSeconds: 3600,
      draining: false,
      connections: 120,
    },
    process: {
      rssBytes: 160 * 1024 * 1024,
      heapUsedBytes: 48 * 1024 * 1024,
      heapTotalBytes: 64 * 1024 * 1024,
      cpuPercent: 4,
      eventLoopLagMs: { max: 3, p99: 2 },
    },
    relay: {
      reservations: 100,
      circuits: 10,
      bytesPerSecondIn: 250_000,
      bytesPerSecondOut: 240_000,
      setupLatencyMs: { p50: 2, p99: 6, count: 40 },
      refusals: {},
      refusalsTotal: 0,
    },
    limiter: {
      rejections: {},
      rejectionsTotal: 0,
      throttleFactor: 1,
      bans: 0,
      topTalkers: [],
    },
    limits: defaultSnapshotLimits(),
  };
}

/**
 * Merges `partial` onto `base`: objects recursively, everything else (arrays included)
 * replaced.
 */
export function mergeSnapshot(base: unknown, partial: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(partial)) {
    return partial === undefined ? base : partial;
  }
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(partial)) out[key] = mergeSnapshot(base[key], value);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
