/**
 * Prometheus metrics of the federation and the balancer, registered on the daemon's
 * registry. Gauges read the view at scrape time.
 *
 * @module
 */

import type { Counter, MetricsRegistry } from "../metrics/mod.ts";
import { ALGORITHMS, MEMBER_STATES } from "../balancer/mod.ts";
import type { MemberCounts } from "./member_view.ts";
import { REJECT_REASONS } from "./report_validator.ts";
import type { ScoreHookOutcome } from "./score_hook.ts";

/** What the gauges read at scrape time. */
export interface FederationMetricsSource {
  /** Members by state, ourselves included (alive). */
  counts(): MemberCounts;
  /** Members we hold a connection to. */
  connectedMembers(): number;
  /** Age of the oldest report among alive members, ms (undefined: none). */
  oldestReportAgeMs(): number | undefined;
}

/** The federation's counters. */
export class FederationMetrics {
  readonly reportsReceived: Counter;
  readonly reportsRejected: Counter<"reason">;
  readonly reportsSent: Counter<"result">;
  readonly selections: Counter<"algorithm">;
  readonly scoreHookCalls: Counter<"result">;
  readonly memberDials: Counter<"result">;
  readonly selectStreamErrors: Counter<"reason">;

  /**
   * @param registry Where to register.
   * @param source Live state for the gauges.
   */
  constructor(registry: MetricsRegistry, source: FederationMetricsSource) {
    registry.gauge({
      name: "hopd_federation_members",
      help: "Federation members by state (alive, suspect, dead), this node included.",
      labelNames: ["state"] as const,
      collect() {
        const counts = source.counts();
        for (const state of MEMBER_STATES) this.set({ state }, counts[state]);
      },
    });
    registry.gauge({
      name: "hopd_federation_connected_members",
      help: "Federation members this node holds a connection to.",
      collect() {
        this.set(source.connectedMembers());
      },
    });
    registry.gauge({
      name: "hopd_federation_view_staleness_seconds",
      help: "Age of the oldest report among alive members (0 when no other member is alive).",
      collect() {
        this.set((source.oldestReportAgeMs() ?? 0) / 1_000);
      },
    });
    this.reportsReceived = registry.counter({
      name: "hopd_federation_reports_received_total",
      help: "Load reports that reached validation (accepted = received - rejected).",
    });
    this.reportsRejected = registry.counter({
      name: "hopd_federation_reports_rejected_total",
      help: "Load reports refused, by reason (non_member, self, unsigned, malformed, stale; " +
        "replayed: not newer than one accepted, a replay or a report the mesh forwarded late).",
      labelNames: ["reason"] as const,
    });
    for (const reason of REJECT_REASONS) this.reportsRejected.inc({ reason }, 0);
    this.reportsSent = registry.counter({
      name: "hopd_federation_reports_sent_total",
      help: "Load reports this node published, by result (ok, error).",
      labelNames: ["result"] as const,
    });
    this.selections = registry.counter({
      name: "hopd_balancer_selections_total",
      help: "Relay selections answered, by algorithm (HTTP and libp2p).",
      labelNames: ["algorithm"] as const,
    });
    for (const algorithm of ALGORITHMS) this.selections.inc({ algorithm }, 0);
    this.scoreHookCalls = registry.counter({
      name: "hopd_balancer_score_hook_calls_total",
      help:
        "Calls of the plugin scoring hook by outcome (ok, none: no scorer; error, timeout, invalid: ranking kept).",
      labelNames: ["result"] as const satisfies readonly ["result"],
    });
    this.memberDials = registry.counter({
      name: "hopd_federation_member_dials_total",
      help: "Dials of federation members, by result (ok, error).",
      labelNames: ["result"] as const,
    });
    this.selectStreamErrors = registry.counter({
      name: "hopd_federation_select_stream_errors_total",
      help: "/hopd/select/1.0.0 streams that failed (timeout, reset, oversized request), by error.",
      labelNames: ["reason"] as const,
    });
  }

  /** Counts one scoring hook call. */
  scoreHook(outcome: ScoreHookOutcome): void {
    this.scoreHookCalls.inc({ result: outcome });
  }
}
