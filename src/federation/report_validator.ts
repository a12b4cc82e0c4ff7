/**
 * Decides whether a load report from the federation topic is believed. Gossipsub has
 * already checked the StrictSign signature (the `from` peer signed these bytes); this
 * checks, in order: the signer is on the member allowlist and is not us, the bytes decode
 * to a sane report, its (epoch, seq) is newer than the last one accepted from that member
 * (replay protection past gossipsub's seen-cache, and across a restart of ours), and it was
 * sent recently by the receiver's clock. Each refusal has a reason for
 * `hopd_federation_reports_rejected_total{reason}`.
 *
 * @example
 * ```ts
 * import { ManualClock } from "../clock/mod.ts";
 * import { ReportValidator } from "./report_validator.ts";
 * const validator = new ReportValidator({
 *   self: "12D3KooWSelf", members: ["12D3KooWA"], maxAgeMs: 7_500, clock: new ManualClock(),
 * });
 * validator.check("12D3KooWStranger", new Uint8Array()).ok; // false: non_member
 * ```
 *
 * @module
 */

import { multiaddr } from "@multiformats/multiaddr";
import type { Clock } from "../clock/mod.ts";
import { MAX_CLOCK_SKEW_MS } from "./constants.ts";
import { decodeLoadReport, type LoadReport, MalformedReportError } from "./pb/load_report.ts";

/** Why a report was not believed. */
export type RejectReason =
  | "non_member"
  | "self"
  | "unsigned"
  | "malformed"
  | "replayed"
  | "stale";

/** Every reject reason, for metrics. */
export const REJECT_REASONS: readonly RejectReason[] = [
  "non_member",
  "self",
  "unsigned",
  "malformed",
  "replayed",
  "stale",
];

/** The verdict on one report. */
export type ReportCheck =
  | {
    readonly ok: true;
    readonly report: LoadReport;
    /** The report's multiaddrs as text, each ending in /p2p/<sender>. */
    readonly addrs: string[];
  }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** What the validator needs. */
export interface ReportValidatorInit {
  /** Our own peer ID (our reports coming back are refused). */
  readonly self: string;
  /** Allowlisted member peer IDs. */
  readonly members: Iterable<string>;
  /** Oldest send time accepted, as an age in ms (the dead limit: older would be dead at once). */
  readonly maxAgeMs: number;
  /** Its wall clock is compared with the reports' send times. */
  readonly clock: Clock;
  /** How far ahead of our clock a send time may be. @default 5_000 */
  readonly maxSkewMs?: number;
}

/** Checks reports and remembers the newest (epoch, seq) accepted per member. */
export class ReportValidator {
  readonly #self: string;
  readonly #members: ReadonlySet<string>;
  readonly #maxAgeMs: number;
  readonly #maxSkewMs: number;
  readonly #clock: Clock;
  readonly #newest = new Map<string, { epoch: number; seq: number }>();

  /** @param init Allowlist, clock and bounds. */
  constructor(init: ReportValidatorInit) {
    this.#self = init.self;
    this.#members = new Set(init.members);
    this.#maxAgeMs = init.maxAgeMs;
    this.#maxSkewMs = init.maxSkewMs ?? MAX_CLOCK_SKEW_MS;
    this.#clock = init.clock;
  }

  /** Whether `peerId` is on the allowlist (we count as a member). */
  isMember(peerId: string): boolean {
    return peerId === this.#self || this.#members.has(peerId);
  }

  /**
   * Checks one report and, when it is believed, records its (epoch, seq).
   *
   * @param from The signer's peer ID (gossipsub's `from`), undefined for unsigned messages.
   * @param data The message bytes.
   * @returns The decoded report, or why it is refused.
   */
  check(from: string | undefined, data: Uint8Array): ReportCheck {
    if (from === undefined) return reject("unsigned", "message is not signed");
    if (from === this.#self) return reject("self", "message claims to come from us");
    if (!this.#members.has(from)) return reject("non_member", `${from} is not a member`);
    let report: LoadReport;
    try {
      report = decodeLoadReport(data);
    } catch (error) {
      if (!(error instanceof MalformedReportError)) throw error;
      return reject("malformed", error.message);
    }
    let addrs: string[];
    try {
      addrs = report.addrs.map((bytes) => withPeer(multiaddr(bytes).toString(), from));
    } catch (error) {
      return reject("malformed", `an addr does not parse: ${(error as Error).message}`);
    }
    const newest = this.#newest.get(from);
    if (
      newest !== undefined &&
      (report.epoch < newest.epoch || (report.epoch === newest.epoch && report.seq <= newest.seq))
    ) {
      return reject(
        "replayed",
        `(${report.epoch}, ${report.seq}) is not after (${newest.epoch}, ${newest.seq})`,
      );
    }
    const ageMs = this.#clock.nowMs() - report.sentAtMs;
    if (ageMs > this.#maxAgeMs + this.#maxSkewMs || ageMs < -this.#maxSkewMs) {
      return reject("stale", `sent ${ageMs} ms ago`);
    }
    this.#newest.set(from, { epoch: report.epoch, seq: report.seq });
    return { ok: true, report, addrs };
  }

  /** Forgets what was accepted from a member (it was dropped from the view). */
  forget(peerId: string): void {
    this.#newest.delete(peerId);
  }
}

function withPeer(addr: string, peerId: string): string {
  return addr.endsWith(`/p2p/${peerId}`) ? addr : `${addr}/p2p/${peerId}`;
}

function reject(reason: RejectReason, detail: string): ReportCheck {
  return { ok: false, reason, detail };
}
