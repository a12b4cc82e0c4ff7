/**
 * What a member's accepted report changed, told in the log: a drain started or ended at INFO
 * (the member leaves or rejoins every selection, as rare and as telling as its state lines), and
 * a change of what the balancer ranks on that a member reports as a count or a setting
 * (reservations, circuits, verdict, weight) at debug. CPU, memory and bytes per second change
 * with every report, so they are not a change worth a line.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { LoadReport } from "./pb/load_report.ts";

/** The reported fields whose change is logged at debug, as they are named in the line. */
export const RANKED_FIELDS = ["reservations", "circuits", "verdict", "weight"] as const;

/** What one accepted report changed against the member's previous one. */
export interface ReportChange {
  /** The drain flag, when it changed (a first report that drains counts as a change). */
  readonly draining?: boolean;
  /** The {@linkcode RANKED_FIELDS} that changed (all of them for a first report). */
  readonly changed: readonly (typeof RANKED_FIELDS)[number][];
}

function fieldOf(report: LoadReport, field: (typeof RANKED_FIELDS)[number]): unknown {
  switch (field) {
    case "reservations":
      return report.load.reservations;
    case "circuits":
      return report.load.circuits;
    case "verdict":
      return report.verdict;
    case "weight":
      return report.weight;
  }
}

/**
 * Compares a member's accepted report with its previous one.
 *
 * @example
 * ```ts
 * import { reportChange } from "./report_changes.ts";
 * import { idleLoadReport } from "./testing.ts";
 * reportChange(idleLoadReport(), idleLoadReport({ draining: true }));
 * // { draining: true, changed: [] }
 * ```
 *
 * @param before The member's previous report; undefined for its first.
 * @param after The report just accepted.
 * @returns What changed.
 */
export function reportChange(before: LoadReport | undefined, after: LoadReport): ReportChange {
  const changed = RANKED_FIELDS.filter((field) =>
    before === undefined || fieldOf(before, field) !== fieldOf(after, field)
  );
  return (before?.draining ?? false) === after.draining
    ? { changed }
    : { draining: after.draining, changed };
}

/**
 * Logs what a member's accepted report changed: `Member … is draining: no longer selected` or
 * `Member … ended its drain` at INFO, and `Member … reports 3 reservations, 1 circuits, verdict
 * healthy, weight 1` at debug when a {@linkcode RANKED_FIELDS} field changed (its properties:
 * `peerId`, the four fields, `draining`, `changed`, `seq`). Nothing for a leaving report: the
 * member is gone.
 *
 * @param log The federation's logger.
 * @param accepted `peerId`, the member; `report`, the report just accepted; `change`, what it
 * changed ({@linkcode reportChange}).
 */
export function logReportChange(
  log: Logger,
  { peerId, report, change }: {
    readonly peerId: string;
    readonly report: LoadReport;
    readonly change: ReportChange;
  },
): void {
  if (report.leaving) return;
  if (change.draining === true) {
    log.info("Member {peerId} is draining: no longer selected", { peerId, draining: true });
  } else if (change.draining === false) {
    log.info("Member {peerId} ended its drain", { peerId, draining: false });
  }
  if (change.changed.length === 0) return;
  log.debug(
    "Member {peerId} reports {reservations} reservations, {circuits} circuits, verdict {verdict}, weight {weight}",
    {
      peerId,
      reservations: report.load.reservations,
      circuits: report.load.circuits,
      verdict: report.verdict,
      weight: report.weight,
      draining: report.draining,
      changed: change.changed,
      seq: report.seq,
    },
  );
}
