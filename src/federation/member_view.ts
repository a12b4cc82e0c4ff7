/**
 * The federation's state as one member sees it: the latest believed report of every other
 * member, when it arrived (by our clock), and its state. A report makes a member alive;
 * silence past `suspectAfterMs` makes it suspect, past `deadAfterMs` dead, and a dead member
 * is forgotten after `forgetAfterMs`. Losing our last connection to a member makes it
 * suspect at once (a killed process's sockets close long before its silence is noticed); its
 * next report, by whatever path, makes it alive again. A report flagged `leaving` (a clean
 * stop) makes it dead at once.
 *
 * Time comes in as arguments (`nowMs`), so tests drive it without sleeping.
 *
 * @example
 * ```ts
 * import { MemberView } from "./member_view.ts";
 * const view = new MemberView({ suspectAfterMs: 2_000, deadAfterMs: 2_500, forgetAfterMs: 300_000 });
 * // view.apply({ peerId: "12D3KooWA", report, addrs }, 0); view.tick(2_100) → suspect
 * ```
 *
 * @module
 */

import type { MemberState } from "../balancer/mod.ts";
import type { LoadReport } from "./pb/load_report.ts";

/** One remote member. */
export interface MemberRecord {
  readonly peerId: string;
  readonly state: MemberState;
  /** Its latest believed report. */
  readonly report: LoadReport;
  /** Its multiaddrs as text, with /p2p/<peer id>. */
  readonly addrs: readonly string[];
  /** When its latest report arrived, by our clock (ms). */
  readonly lastReportAtMs: number;
  /** Whether we hold a connection to it. */
  readonly connected: boolean;
  /** Our latest ping RTT to it, in ms. */
  readonly rttMs?: number;
}

/** Member counts by state. */
export interface MemberCounts {
  /** Members reporting within the suspect time. */
  alive: number;
  /** Members silent past the suspect time (or disconnected), not yet dead. */
  suspect: number;
  /** Members silent past the dead time: no longer ranked. */
  dead: number;
}

/** How the view ages members. */
export interface MemberViewInit {
  readonly suspectAfterMs: number;
  readonly deadAfterMs: number;
  readonly forgetAfterMs: number;
  /**
   * Called after a member changed (report, state, connection or RTT), with the new record,
   * or with undefined when it was forgotten.
   */
  readonly onChange?: (peerId: string, record: MemberRecord | undefined) => void;
}

interface MutableRecord {
  peerId: string;
  state: MemberState;
  report: LoadReport;
  addrs: readonly string[];
  lastReportAtMs: number;
  connected: boolean;
  rttMs?: number;
}

/** Every other member's latest report and state. */
/** A believed report: who sent it, what it says, and where the sender can be reached. */
export interface HeardReport {
  readonly peerId: string;
  readonly report: LoadReport;
  /** The member's multiaddrs as text. */
  readonly addrs: readonly string[];
}

export class MemberView {
  readonly #init: MemberViewInit;
  readonly #records = new Map<string, MutableRecord>();

  /** @param init Ageing limits and the change callback. */
  constructor(init: MemberViewInit) {
    this.#init = init;
  }

  /** Number of members known (any state). */
  get size(): number {
    return this.#records.size;
  }

  /**
   * Records a believed report: the member is alive (dead at once if it is leaving).
   *
   * @param heard The member, its report and its multiaddrs as text.
   * @param nowMs Our clock.
   * @returns The member's state before the report (undefined: new member).
   */
  apply(heard: HeardReport, nowMs: number): MemberState | undefined {
    const { peerId, report, addrs } = heard;
    const record = this.#records.get(peerId);
    const before = record?.state;
    const state: MemberState = report.leaving ? "dead" : "alive";
    if (record === undefined) {
      this.#records.set(peerId, {
        peerId,
        state,
        report,
        addrs,
        lastReportAtMs: nowMs,
        connected: false,
      });
    } else {
      record.state = state;
      record.report = report;
      record.addrs = addrs;
      record.lastReportAtMs = nowMs;
    }
    this.#changed(peerId);
    return before;
  }

  /**
   * Notes whether we hold a connection to a member; losing one we held makes an alive
   * member suspect (a member we never connected to is judged by its reports alone).
   *
   * @returns Whether the state changed.
   */
  setConnected(peerId: string, connected: boolean): boolean {
    const record = this.#records.get(peerId);
    if (record === undefined || record.connected === connected) return false;
    record.connected = connected;
    const suspect = !connected && record.state === "alive";
    if (suspect) record.state = "suspect";
    this.#changed(peerId);
    return suspect;
  }

  /** Records our ping RTT to a member, in ms. */
  setRtt(peerId: string, rttMs: number): void {
    const record = this.#records.get(peerId);
    if (record === undefined) return;
    record.rttMs = rttMs;
    this.#changed(peerId);
  }

  /**
   * Ages every member by its silence: suspect, dead, forgotten.
   *
   * @param nowMs Our clock.
   * @returns The members whose state changed, with their new state (undefined = forgotten).
   */
  tick(nowMs: number): Array<[string, MemberState | undefined]> {
    const { suspectAfterMs, deadAfterMs, forgetAfterMs } = this.#init;
    const changes: Array<[string, MemberState | undefined]> = [];
    for (const record of this.#records.values()) {
      const silentMs = nowMs - record.lastReportAtMs;
      if (silentMs > forgetAfterMs) {
        this.#records.delete(record.peerId);
        this.#init.onChange?.(record.peerId, undefined);
        changes.push([record.peerId, undefined]);
        continue;
      }
      const state: MemberState = record.state === "dead" || silentMs > deadAfterMs
        ? "dead"
        : record.state === "suspect" || silentMs > suspectAfterMs
        ? "suspect"
        : "alive";
      if (state !== record.state) {
        record.state = state;
        this.#changed(record.peerId);
        changes.push([record.peerId, state]);
      }
    }
    return changes;
  }

  /** The record of one member. */
  get(peerId: string): MemberRecord | undefined {
    return this.#records.get(peerId);
  }

  /** Every member's record. */
  records(): MemberRecord[] {
    return [...this.#records.values()];
  }

  /** Member counts by state. */
  counts(): MemberCounts {
    const counts: MemberCounts = { alive: 0, suspect: 0, dead: 0 };
    for (const record of this.#records.values()) counts[record.state]++;
    return counts;
  }

  /**
   * Age of the oldest report among alive members.
   *
   * @param nowMs Our clock.
   * @returns The age in ms, or undefined when no member is alive.
   */
  oldestReportAgeMs(nowMs: number): number | undefined {
    let oldest: number | undefined;
    for (const record of this.#records.values()) {
      if (record.state !== "alive") continue;
      if (oldest === undefined || record.lastReportAtMs < oldest) oldest = record.lastReportAtMs;
    }
    return oldest === undefined ? undefined : Math.max(0, nowMs - oldest);
  }

  #changed(peerId: string): void {
    this.#init.onChange?.(peerId, this.#records.get(peerId));
  }
}
