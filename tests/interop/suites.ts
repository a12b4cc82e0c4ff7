/**
 * The interop suites `deno task interop` runs, in order. Each suite starts the hopd it needs
 * (the real program, `deno task hopd run`, on 127.0.0.1 port 0) and yields its cases; the
 * runner (./main.ts) runs the cases a few at a time and prints one line each.
 *
 * - `matrix`: every client reserving × every client dialing, over TCP and over WS, echoing
 *   1 MiB both ways through one hopd.
 * - `limits`: go and rust read the data and duration limits hopd advertises, and see the
 *   circuit closed when it passes them.
 * - `stop`: hopd's STOP to every client kind as the target, pipelined and (with
 *   `relay.stop_pipelining = false`) negotiated first, counted by mode in /metrics.
 *
 * To add a suite (the hole-punch suite over network namespaces goes here): write a
 * {@linkcode Suite} and append it to a lane of `SUITE_LANES` (./all_suites.ts).
 *
 * @module
 */

import { type HopdProcess, spawnHopd } from "../_helpers/hopd_process.ts";
import { sampleSum, scrapeMetrics, transportAddr } from "../_helpers/ops_probe.ts";
import type { Client, ClientName, Transport } from "./clients.ts";
import { type PairOutcome, runPair, type SideOutcome } from "./pair.ts";
import type { ClientResult } from "./result.ts";

/** What a case reports: a pass or a failure, its line, and the detail printed on failure. */
export interface CaseOutcome {
  readonly ok: boolean;
  readonly line: string;
  readonly detail?: string;
}

/** One case: a name and how to run it. */
export interface Case {
  readonly name: string;
  run(): Promise<CaseOutcome>;
}

/** What a suite gets: the usable clients by name. */
export interface SuiteContext {
  readonly clients: ReadonlyMap<ClientName, Client>;
  /** Attempts per case, for suites that repeat a case (holepunch); absent = the suite's own. */
  readonly attempts?: number;
}

/** A group of cases around the hopd it starts; `close` stops that hopd. */
export interface Suite {
  readonly name: string;
  /**
   * Cases run at once when `--jobs` is not given (default 2). A suite whose cases mostly wait
   * (the NAT lab's: a 10 s wait for a direct connection, a 15 s duration limit), each in a lab
   * of its own, runs more.
   */
  readonly jobs?: number;
  /** Starts what the cases need; returns the cases and how to clean up. */
  prepare(context: SuiteContext): Promise<{ cases: Case[]; close(): Promise<void> }>;
}

export const MIB = 1024 * 1024;

/** Environment for a hopd under test: loopback clients come from one IP, policies off. */
function hopdEnv(extra: Record<string, string>): Record<string, string> {
  return {
    HOPD_POLICY_ENABLED: "false",
    HOPD_LIMITS_CONNECTIONS_PER_IP: "1000/s",
    HOPD_LIMITS_CONNECTIONS_PER_IP_BURST: "1000",
    HOPD_LIMITS_CONNECTIONS_PER_SUBNET: "1000/s",
    HOPD_LIMITS_CONNECTIONS_PER_SUBNET_BURST: "1000",
    HOPD_LIMITS_RESERVATIONS_PER_IP: "1000/s",
    HOPD_LIMITS_RESERVATIONS_PER_IP_BURST: "1000",
    HOPD_RELAY_MAX_RESERVATIONS_PER_IP: "0",
    HOPD_RELAY_MAX_RESERVATIONS_PER_SUBNET: "0",
    ...extra,
  };
}

/** Starts the hopd a suite runs against, with `env` added. */
export async function startHopd(env: Record<string, string>): Promise<HopdProcess> {
  return await spawnHopd({ env: hopdEnv(env) });
}

function sideError(label: string, side: SideOutcome | undefined): string | undefined {
  if (side === undefined) return `${label}: not started`;
  if (side.result === undefined) return `${label}: ${side.error ?? "no result"}`;
  if (!side.result.ok) return `${label}: ${side.result.errors.join("; ")}`;
  return undefined;
}

/** The failure detail of a pair: both result lines and stderr tails. */
export function pairDetail(outcome: PairOutcome): string {
  const show = (label: string, side: SideOutcome | undefined) =>
    side === undefined ? `  ${label}: not started` : [
      `  ${label} (exit ${side.code}): ${
        side.result ? JSON.stringify(side.result) : side.error ?? ""
      }`,
      ...(side.stderr.trim() === "" ? [] : [`  ${label} stderr: ${side.stderr.trim()}`]),
    ].join("\n");
  return `${show("listener", outcome.listener)}\n${show("dialer", outcome.dialer)}`;
}

function sizeLabel(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB}MiB` : `${bytes}B`;
}

/**
 * Checks an echo pair: both sides ok, the listener reserved, the dialer's connection relayed,
 * and `bytes` echoed intact both ways.
 */
export function echoChecks(outcome: PairOutcome, bytes: number): {
  reserve: string;
  connect: string;
  echo: string;
  problems: string[];
} {
  const l = outcome.listener.result;
  const d = outcome.dialer?.result;
  const problems: string[] = [];
  const reserve = l?.reservation != null ? "ok" : "FAILED";
  const connect = d?.connect?.relayed === true ? "ok" : "FAILED";
  const echoOk = d?.echo?.intact === true && d.echo.received === bytes &&
    l?.echo?.bytes === bytes && l.echo.sent === bytes;
  const echo = echoOk ? "ok" : "FAILED";
  for (
    const [label, side] of [["listener", outcome.listener], ["dialer", outcome.dialer]] as const
  ) {
    const error = sideError(label, side);
    if (error !== undefined) problems.push(error);
  }
  if (reserve !== "ok") problems.push("no reservation");
  if (connect !== "ok") problems.push("dialer has no relayed connection");
  if (!echoOk) {
    problems.push(
      `echo: dialer received ${d?.echo?.received ?? "-"} of ${bytes}, listener echoed ${
        l?.echo?.sent ?? "-"
      }`,
    );
  }
  return { reserve, connect, echo, problems };
}

/** The relay address of `hopd` for `transport`. */
export function relayAddr(hopd: HopdProcess, transport: Transport): string {
  return transportAddr(hopd.listenAddrs, transport);
}

const ECHO_BYTES = MIB;
/** The data limit the matrix's hopd advertises: above the echo, so it is read but not hit. */
const MATRIX_DATA_LIMIT = 4 * MIB;

/** Every reserving client × every dialing client × the transports both have. */
export const matrixSuite: Suite = {
  name: "matrix",
  async prepare({ clients }) {
    const hopd = await startHopd({ HOPD_RELAY_CIRCUIT_DATA: String(MATRIX_DATA_LIMIT) });
    const cases: Case[] = [];
    for (const listener of clients.values()) {
      for (const dialer of clients.values()) {
        for (const transport of ["tcp", "ws"] as const) {
          if (!listener.transports.includes(transport) || !dialer.transports.includes(transport)) {
            continue;
          }
          const name = `${dialer.name}->${listener.name} via hopd over ${transport}`;
          cases.push({
            name,
            async run() {
              const outcome = await runPair({
                listener,
                dialer,
                relay: relayAddr(hopd, transport),
                echoBytes: ECHO_BYTES,
              });
              const checks = echoChecks(outcome, ECHO_BYTES);
              const problems = [
                ...checks.problems,
                ...limitProblems(outcome),
                ...observedProblems(outcome),
              ];
              const ms = outcome.dialer?.result?.echo?.ms;
              return {
                ok: problems.length === 0,
                line: `interop ${name}: reserve ${checks.reserve}, connect ${checks.connect}, ` +
                  `echo ${sizeLabel(ECHO_BYTES)} ${checks.echo}` +
                  (ms === undefined ? "" : ` (${Math.round(ms)} ms)`),
                detail: problems.length === 0
                  ? undefined
                  : `${problems.join("\n")}\n${pairDetail(outcome)}`,
              };
            },
          });
        }
      }
    }
    return { cases, close: async () => void await hopd.stop() };
  },
};

/**
 * Each client must have learned from hopd's identify answer the address hopd saw it at: on
 * loopback, a 127.0.0.1 address.
 */
function observedProblems(outcome: PairOutcome): string[] {
  return [outcome.listener.result, outcome.dialer?.result].flatMap((result) =>
    result === undefined || result.observedAddrs.some((a) => a.startsWith("/ip4/127.0.0.1/"))
      ? []
      : [`${result.role} (${result.impl}) got no observed address from hopd's identify`]
  );
}

/**
 * Whether a limit a client read is the one hopd advertised. js-libp2p keeps a connection's
 * limits as what is left (bytes that already crossed, the noise handshake's included, and
 * seconds gone are taken off), so for node and deno the read value may be a little lower.
 */
export function limitMatches(
  impl: ClientResult["impl"],
  got: { durationS: number | null; dataBytes: number | null } | null | undefined,
  want: { durationS: number; dataBytes: number },
): boolean {
  if (got == null || got.durationS === null || got.dataBytes === null) return false;
  if (impl === "go" || impl === "rust") {
    return got.durationS === want.durationS && got.dataBytes === want.dataBytes;
  }
  return got.durationS <= want.durationS && got.durationS >= want.durationS - 2 &&
    got.dataBytes <= want.dataBytes && got.dataBytes > want.dataBytes - 16 * 1024;
}

/**
 * The limit each client read must be the one hopd advertises: the matrix's hopd advertises a
 * 2 min duration and a 4 MiB data limit. js-libp2p drops the RESERVE answer's limit (only the
 * connection's limit is kept), so a js listener's reservation limit is not checked.
 */
function limitProblems(outcome: PairOutcome): string[] {
  const want = { durationS: 120, dataBytes: MATRIX_DATA_LIMIT };
  const problems: string[] = [];
  const check = (label: string, result: ClientResult | undefined, what: string, got: unknown) => {
    if (result === undefined) return;
    if (!limitMatches(result.impl, got as Parameters<typeof limitMatches>[1], want)) {
      problems.push(
        `${label} (${result.impl}) read ${what} limit ${JSON.stringify(got)}, want ${
          JSON.stringify(want)
        }`,
      );
    }
  };
  const l = outcome.listener.result;
  const d = outcome.dialer?.result;
  if (l !== undefined && l.impl !== "node" && l.impl !== "deno") {
    check("listener", l, "reservation", l.reservation?.limit);
  }
  check("listener", l, "STOP", l?.connect?.limit);
  check("dialer", d, "HOP STATUS", d?.connect?.limit);
  return problems;
}

const LIMIT_DATA_BYTES = 64 * 1024;
const LIMIT_DURATION_S = 2;

/** The pairs whose clients read the relay's limits themselves (js is covered by tests/relay_interop_test.ts). */
function limitPairs(clients: ReadonlyMap<ClientName, Client>): [Client, Client][] {
  const readers = [...clients.values()].filter((c) => c.name === "go" || c.name === "rust");
  return readers.flatMap((listener) =>
    readers.map((dialer) => [listener, dialer] as [Client, Client])
  );
}

/**
 * go and rust read the limits hopd advertises (RESERVE answer, HOP STATUS, STOP CONNECT) and
 * see the circuit end when it passes them: past the data limit the relay resets the circuit
 * (the echo fails, the relayed connection closes), and at the duration the connection closes.
 */
export const limitsSuite: Suite = {
  name: "limits",
  async prepare({ clients }) {
    const hopd = await startHopd({
      HOPD_RELAY_CIRCUIT_DATA: String(LIMIT_DATA_BYTES),
      HOPD_RELAY_CIRCUIT_DURATION: `${LIMIT_DURATION_S}s`,
    });
    const relay = relayAddr(hopd, "tcp");
    const want = JSON.stringify({ durationS: LIMIT_DURATION_S, dataBytes: LIMIT_DATA_BYTES });
    const readLimits = (outcome: PairOutcome): string[] => {
      const l = outcome.listener.result;
      const d = outcome.dialer?.result;
      const seen: [string, unknown][] = [
        ["listener reservation", l?.reservation?.limit],
        ["listener STOP", l?.connect?.limit],
        ["dialer HOP STATUS", d?.connect?.limit],
      ];
      return seen.filter(([, got]) => JSON.stringify(got) !== want).map(([what, got]) =>
        `${what} limit read as ${JSON.stringify(got)}, want ${want}`
      );
    };
    const cases: Case[] = [];
    for (const [listener, dialer] of limitPairs(clients)) {
      const pair = `${dialer.name}->${listener.name}`;
      cases.push({
        name: `limits ${pair} data ${LIMIT_DATA_BYTES}B`,
        async run() {
          const outcome = await runPair({
            listener,
            dialer,
            relay,
            echoBytes: MIB,
            waitClose: true,
            timeoutS: 20,
          });
          const d = outcome.dialer?.result;
          const l = outcome.listener.result;
          const problems = readLimits(outcome);
          if (d?.echo == null || d.echo.received >= MIB || d.echo.error === undefined) {
            problems.push(`dialer's 1 MiB echo was not cut: ${JSON.stringify(d?.echo)}`);
          }
          if (l?.reservation == null) problems.push("no reservation");
          if (d?.closed == null) problems.push("dialer never saw the relayed connection close");
          else if (d.closed.afterMs >= LIMIT_DURATION_S * 1000) {
            problems.push(
              `closed after ${d.closed.afterMs} ms: by the duration, not the data limit`,
            );
          }
          if (l?.closed == null) problems.push("listener never saw the relayed connection close");
          return {
            ok: problems.length === 0,
            line: `interop ${pair} limits: data ${LIMIT_DATA_BYTES} B read ${
              readLimits(outcome).length === 0 ? "ok" : "FAILED"
            }, circuit cut ${
              d?.closed == null
                ? "FAILED"
                : `ok (${Math.round(d.closed.afterMs)} ms, after ${d.echo?.received ?? 0} B back)`
            }`,
            detail: problems.length === 0
              ? undefined
              : `${problems.join("\n")}\n${pairDetail(outcome)}`,
          };
        },
      });
      cases.push({
        name: `limits ${pair} duration ${LIMIT_DURATION_S}s`,
        async run() {
          const outcome = await runPair({
            listener,
            dialer,
            relay,
            echoBytes: 1000,
            waitClose: true,
            timeoutS: 20,
          });
          const d = outcome.dialer?.result;
          const l = outcome.listener.result;
          const problems = readLimits(outcome);
          if (d?.echo?.intact !== true) {
            problems.push(`echo under the limits failed: ${JSON.stringify(d?.echo)}`);
          }
          const after = d?.closed?.afterMs;
          // The relay starts its clock when it answers STATUS OK, during the client's dial and
          // before the client counts its connection open: at most the dial's own time earlier
          // (on a busy machine that gap once reached 123 ms). A busy machine may close 3 s late.
          const dialMs = d?.connect?.ms ?? 0;
          if (after === undefined) problems.push("dialer never saw the relayed connection close");
          else if (
            after < LIMIT_DURATION_S * 1000 - dialMs || after > LIMIT_DURATION_S * 1000 + 3_000
          ) {
            problems.push(`closed after ${after} ms, want about ${LIMIT_DURATION_S * 1000}`);
          }
          if (l?.closed == null) problems.push("listener never saw the relayed connection close");
          return {
            ok: problems.length === 0,
            line: `interop ${pair} limits: duration ${LIMIT_DURATION_S} s read ${
              readLimits(outcome).length === 0 ? "ok" : "FAILED"
            }, circuit closed ${
              after === undefined ? "FAILED" : `ok (after ${Math.round(after)} ms)`
            }`,
            detail: problems.length === 0
              ? undefined
              : `${problems.join("\n")}\n${pairDetail(outcome)}`,
          };
        },
      });
    }
    return { cases, close: async () => void await hopd.stop() };
  },
};

/**
 * hopd's STOP to each client kind as the target, both ways hopd can open it: pipelined
 * (negotiation and CONNECT in one write, the default) and negotiated first
 * (`relay.stop_pipelining = false`, libp2p's newStream). Each hopd must count every STOP in
 * its own mode only (`hopd_circuit_stop_streams_total{mode}`).
 */
export const stopSuite: Suite = {
  name: "stop",
  async prepare({ clients }) {
    const modes = [
      { mode: "pipelined", other: "negotiated", env: {} },
      { mode: "negotiated", other: "pipelined", env: { HOPD_RELAY_STOP_PIPELINING: "false" } },
    ] as const;
    const hopds: HopdProcess[] = [];
    const cases: Case[] = [];
    try {
      for (const { mode, other, env } of modes) {
        const hopd = await startHopd({
          HOPD_RELAY_CIRCUIT_DATA: String(MATRIX_DATA_LIMIT),
          ...env,
        });
        hopds.push(hopd);
        for (const target of clients.values()) {
          const name = `stop ${mode} to ${target.name}`;
          cases.push({
            name,
            async run() {
              const outcome = await runPair({
                listener: target,
                dialer: target,
                relay: relayAddr(hopd, "tcp"),
                echoBytes: MIB,
              });
              const checks = echoChecks(outcome, MIB);
              const samples = await scrapeMetrics(hopd.opsUrl);
              const count = (m: string) =>
                sampleSum(samples, "hopd_circuit_stop_streams_total", { mode: m });
              const problems = [...checks.problems];
              if (count(mode) < 1) problems.push(`hopd counted no ${mode} STOP`);
              if (count(other) !== 0) problems.push(`hopd opened ${count(other)} STOP ${other}`);
              return {
                ok: problems.length === 0,
                line: `interop ${target.name}->${target.name} via hopd, STOP ${mode}: ` +
                  `connect ${checks.connect}, echo ${sizeLabel(MIB)} ${checks.echo}`,
                detail: problems.length === 0
                  ? undefined
                  : `${problems.join("\n")}\n${pairDetail(outcome)}`,
              };
            },
          });
        }
      }
    } catch (error) {
      await Promise.all(hopds.map((h) => h.stop()));
      throw error;
    }
    return { cases, close: async () => void await Promise.all(hopds.map((h) => h.stop())) };
  },
};
