/**
 * Test support: one idle, healthy load report that unit and end-to-end tests adjust with the
 * fields that matter to them (never imported by the daemon).
 *
 * @module
 */

import type { LoadReport } from "./pb/load_report.ts";

/**
 * A report of an idle, healthy member (epoch 1, seq 1, capacity 10 reservations and
 * circuits), with `init` applied on top.
 */
export function idleLoadReport(init: Partial<LoadReport> = {}): LoadReport {
  return {
    epoch: 1,
    seq: 1,
    sentAtMs: 0,
    intervalMs: 1_000,
    addrs: [],
    region: "",
    capacity: { maxReservations: 10, maxCircuits: 10, bandwidthBytesPerSecond: 0 },
    load: {
      reservations: 0,
      circuits: 0,
      bytesPerSecondIn: 0,
      bytesPerSecondOut: 0,
      cpu: 0,
      memoryBytes: 0,
    },
    verdict: "healthy",
    draining: false,
    weight: 1,
    leaving: false,
    ...init,
  };
}
