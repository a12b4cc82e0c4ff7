/**
 * What the interop clients' DCUtR events (`holepunch.events` of their result lines,
 * docs/INTEROP.md) say about a hole-punch attempt that stayed relayed: whether the DCUtR
 * exchange went through hopd, and a one-line account for the case's report.
 *
 * The hole-punch suite (./holepunch.ts) tolerates a missed attempt only in the cells with a
 * rust-libp2p listener, for races inside the implementations; this is how it tells such a
 * miss (the exchange went through hopd, the dials after it failed) from one where hopd never
 * carried the exchange.
 *
 * @module
 */

import type { ClientResult } from "./result.ts";

/** What the two clients' DCUtR events say about an attempt without a direct connection. */
export interface DcutrAccount {
  /**
   * hopd carried a whole DCUtR exchange (CONNECT both ways, then SYNC) at least once:
   * go-libp2p read CONNECT and SYNC (its `StartHolePunch`), or rust-libp2p gave up after
   * dialing (it dials only once the other peer's CONNECT came back). go-libp2p's stream reset
   * alone is no proof: a stream the initiator gave up on for any reason reads as reset.
   */
  readonly exchangeRelayed: boolean;
  /** go-libp2p lost SYNC to rust-libp2p's stream reset (the race `directNeeded` names). */
  readonly syncLostToReset: boolean;
  /** One line: what each client's events show, e.g. `go: stream reset before SYNC; …`. */
  readonly summary: string;
}

/** rust-libp2p's dcutr error when every dial after an exchange failed (libp2p-dcutr 0.15). */
const RUST_GAVE_UP = /Giving up after (\d+) dial attempts/;

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? value as Record<string, unknown> : {};
}

/** The account of one go-libp2p client's holepunch tracer events. */
function goAccount(events: readonly unknown[]) {
  let resets = 0;
  let otherErrors = 0;
  let exchanges = 0;
  let failedDials = 0;
  let lastDialError: string | undefined;
  for (const raw of events) {
    const e = record(raw);
    const evt = record(e.event);
    if (e.type === "ProtocolError") {
      // The same text for the CONNECT and the SYNC read; rust-libp2p resets only after SYNC.
      if (String(evt.Error).includes("stream reset")) resets++;
      else otherErrors++;
    } else if (e.type === "StartHolePunch") {
      exchanges++;
    } else if (e.type === "EndHolePunch" && evt.Success === false) {
      failedDials++;
      lastDialError = String(evt.Error ?? "");
    }
  }
  const parts: string[] = [];
  if (resets > 0) parts.push(`stream reset before SYNC${resets > 1 ? ` (${resets})` : ""}`);
  if (otherErrors > 0) parts.push(`${otherErrors} other protocol error(s)`);
  if (exchanges > 0) parts.push(`${exchanges} exchange(s) read in full`);
  if (failedDials > 0) {
    const timeout = lastDialError?.includes("i/o timeout") ? ", timed out" : "";
    parts.push(`${failedDials} hole-punch dial(s) failed${timeout}`);
  }
  return { resets, exchanges, parts };
}

/** The account of one rust-libp2p client's dcutr events. */
function rustAccount(events: readonly unknown[]) {
  let gaveUpAfterDials = false;
  const parts: string[] = [];
  for (const raw of events) {
    const e = record(raw);
    if (e.type !== "dcutr" || e.ok !== false) continue;
    const error = String(e.error ?? "");
    if (RUST_GAVE_UP.test(error)) gaveUpAfterDials = true;
    parts.push(error.replace(/^Failed to hole-punch connection: /, ""));
  }
  return { gaveUpAfterDials, parts };
}

/**
 * Reads both clients' DCUtR events of an attempt that stayed relayed.
 *
 * @param results The listener's and the dialer's result lines (either may be missing).
 * @returns Whether hopd carried a DCUtR exchange, whether go-libp2p lost SYNC to
 *   rust-libp2p's reset, and a one-line summary.
 * @example
 * ```ts
 * import { accountDcutr } from "./dcutr_events.ts";
 * const account = accountDcutr([]);
 * console.assert(!account.exchangeRelayed && account.summary === "no DCUtR events");
 * ```
 */
export function accountDcutr(results: readonly (ClientResult | undefined)[]): DcutrAccount {
  let exchangeRelayed = false;
  let syncLostToReset = false;
  const lines: string[] = [];
  for (const result of results) {
    const events = result?.holepunch?.events ?? [];
    if (result === undefined || events.length === 0) continue;
    if (result.impl === "go") {
      const go = goAccount(events);
      if (go.exchanges > 0) exchangeRelayed = true;
      if (go.resets > 0) syncLostToReset = true;
      if (go.parts.length > 0) lines.push(`go ${result.role}: ${go.parts.join(", ")}`);
    } else if (result.impl === "rust") {
      const rust = rustAccount(events);
      if (rust.gaveUpAfterDials) exchangeRelayed = true;
      if (rust.parts.length > 0) lines.push(`rust ${result.role}: ${rust.parts.join(", ")}`);
    }
  }
  return {
    exchangeRelayed,
    syncLostToReset,
    summary: lines.length === 0 ? "no DCUtR events" : lines.join("; "),
  };
}
