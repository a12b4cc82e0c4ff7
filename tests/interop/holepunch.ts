/**
 * The hole-punch suite of `deno task interop`: stock clients behind simulated NATs meet
 * through hopd and upgrade to a direct connection with DCUtR.
 *
 * Each case is one pair (`dialer->listener`, as in the matrix: the listener reserves, the
 * dialer dials it through hopd) behind one NAT setting, in a NAT lab of its own
 * (tests/_helpers/netns.ts: network namespaces, nft NAT routers, removed on every exit path):
 *
 * - `eim`: both behind endpoint-independent-mapping NATs (port-preserving masquerade);
 * - `symmetric`: both behind symmetric NATs (a random public port per destination), where
 *   hole punching cannot work: the relayed connection must carry the traffic and stay up to
 *   hopd's duration limit, and be closed cleanly there;
 * - `public`: the listener behind an eim NAT, the dialer on a public address.
 *
 * Before any libp2p runs, the lab's probe proves each NAT kind. Then hopd (the real program)
 * starts in the lab's public namespace and the pair runs `attempts` times, the NAT mappings
 * flushed between attempts. Per attempt: did a direct connection open (`holepunch.direct`),
 * how long after the relayed one (`directAfterMs`, the dialer's clock), did the echo move to
 * it (`echo.via`), and is identify's observed address from hopd the address the NAT router
 * really maps the client's connection to (from the router's conntrack table). After the
 * attempts, hopd's own view: its circuit lifetime and size histograms (docs/RELAY.md).
 *
 * Three more cases keep both clients up after a hole punch and see who ends the circuit, and
 * when, in hopd's histograms ({@linkcode CIRCUIT_ENDS}): what an operator reads them by.
 *
 * Which cells must hole punch (see {@linkcode expectDirect}) is written down from what the
 * implementations do; a cell passes only when every attempt behaves as expected (but for the
 * races inside rust-libp2p and go-libp2p that {@linkcode directNeeded} describes, where two
 * thirds of the attempts must hole punch), so a regression in hopd (or an implementation that
 * starts to hole punch where it could not) fails the run.
 *
 * @module
 */

import { type LabHost, labUnavailable, type NatKind, type NatLab } from "../_helpers/netns.ts";
import { inLabWithHopd, type LabWithHopd } from "../_helpers/lab_hopd.ts";
import { parseMetrics, sampleSum } from "../_helpers/ops_probe.ts";
import type { Client, ClientName } from "./clients.ts";
import { accountDcutr } from "./dcutr_events.ts";
import { type PairOutcome, runPair } from "./pair.ts";
import type { ClientResult } from "./result.ts";
import { type Case, type CaseOutcome, pairDetail, type Suite } from "./suites.ts";

/** A NAT setting of the suite: the setting's name and what each side sits behind. */
export interface NatSetting {
  readonly name: "eim" | "symmetric" | "public";
  readonly listener: NatKind;
  readonly dialer: NatKind;
}

/** The NAT settings, in the order the suite reports them. */
export const NAT_SETTINGS: readonly NatSetting[] = [
  { name: "eim", listener: "eim", dialer: "eim" },
  { name: "symmetric", listener: "symmetric", dialer: "symmetric" },
  { name: "public", listener: "eim", dialer: "public" },
];

/** The pairs, as [dialer, listener]. */
export const PAIRS: readonly (readonly [ClientName, ClientName])[] = [
  ["go", "go"],
  ["rust", "rust"],
  ["go", "rust"],
  ["rust", "go"],
  ["node", "go"],
  ["go", "node"],
];

/**
 * Attempts per case when `--attempts` is not given (CI): a cell that must hole punch runs 3,
 * one that cannot runs 1 (each such attempt waits out the clients' 10 s for a direct
 * connection). The figures in docs/INTEROP.md come from `--attempts 20`, which every cell runs.
 */
export const DEFAULT_ATTEMPTS = { direct: 3, relayed: 1 } as const;
/** Cases run at once (the suite's `jobs`): each in a lab of its own, mostly waiting. */
const HOLEPUNCH_JOBS = 4;
/** From this many attempts on, every attempt of a symmetric cell waits for the limit. */
const FULL_RUN_ATTEMPTS = 20;

/** Bytes echoed per attempt: under hopd's data limit, so a relayed echo completes. */
const ECHO_BYTES = 64 * 1024;
/** hopd's circuit duration limit in the lab: past the clients' 10 s wait for a direct one. */
const CIRCUIT_DURATION_S = 15;
/**
 * Where a direct connection is expected, how long the dialer waits for it, and the duration
 * limit that keeps the relayed connection up meanwhile. rust-libp2p's dcutr tries 3 times,
 * the next after a failed direct dial times out (10 s): with one peer public, its
 * simultaneous TCP open is lost when that peer's SYN leaves later than the other's reaches
 * it (a race of well under a millisecond on the lab's links; 3 of 20 attempts measured), and
 * rust-libp2p does not try the unilateral upgrade the spec asks for first (go-libp2p does).
 * An application keeps its relayed connection that long too: the wait counts what it gets.
 */
const DIRECT_WAIT_S = 32;
const DIRECT_CIRCUIT_DURATION_S = 35;
/** A direct connection later than this came from a hole-punch attempt after the first. */
const RETRIED_AFTER_MS = 9_000;
/** How late after the duration limit a client may see the relayed connection closed. */
const CLOSE_SLACK_MS = 6_000;
/** How long a client may take in all (the symmetric cells wait for the duration limit). */
const CLIENT_TIMEOUT_S = 50;
/** A circuit that a hole punch replaced ends within this, with at most SMALL_CIRCUIT_BYTES. */
const SHORT_CIRCUIT_S = 1;
const SMALL_CIRCUIT_BYTES = 16 * 1024;

const isJs = (name: ClientName) => name === "node" || name === "deno";

/**
 * Whether the pair is expected to reach a direct connection behind `nat`.
 *
 * - Symmetric NATs on both sides: never (the port a peer learns from the relay is not the
 *   port its peer's packets would reach).
 * - go and rust: eim and public, always. Both dial with the listen port (TCP port reuse) and
 *   hole punch with the address identify observed, with no AutoNAT: go-libp2p's
 *   `HolePunchAddrs` takes an observed address seen by a single peer, rust-libp2p's dcutr its
 *   external address candidates.
 * - js-libp2p behind a NAT: never by hole punching. Its TCP dials cannot use the listen port
 *   and it ignores TCP observed addresses (js-libp2p issue 2620), so it has no address to
 *   offer. A js listener behind a NAT still gets a direct connection when the dialer is public:
 *   it dials the dialer's public listen address (DCUtR's unilateral upgrade). A public js
 *   dialer is not reachable that way: js-libp2p keeps its own public listen address
 *   unverified (out of identify) until AutoNAT confirms it.
 */
export function expectDirect(dialer: ClientName, listener: ClientName, nat: NatSetting): boolean {
  if (nat.name === "symmetric") return false;
  if (!isJs(dialer) && !isJs(listener)) return true;
  return nat.name === "public" && isJs(listener) && !isJs(dialer);
}

/**
 * How many of `attempts` must reach a direct connection: all, for every pair expected to,
 * but those with a rust-libp2p listener (the peer that starts DCUtR), where a third must (1 of
 * the 3 CI runs). Two races inside the implementations, both lost only on links as fast as the
 * lab's (a round trip well under a millisecond), decide the rest. A missed attempt counts
 * against that allowance only when the clients' events show hopd carried a whole DCUtR
 * exchange (./dcutr_events.ts); any other miss fails the case, and the report names every
 * miss. So a miss the allowance takes says nothing about hopd, and the direct attempts show
 * the hole punch through hopd works. It was two thirds until 2026-12-06: on a busy host the
 * go->rust race below is lost in about half the attempts (measured below), and two misses of
 * three failed the README test command on a quiet-enough run of main (1 of 3 direct, each
 * miss this race).
 *
 * The attempts are independent, so the allowance means what it says: each runs new client
 * processes (new identities, new listen ports, so new 4-tuples) and starts with both routers'
 * conntrack tables flushed. Within an attempt, a lost race is not retried away:
 *
 * - rust-libp2p's dcutr (0.57) resets its stream RTT/2 after it sends SYNC, and go-yamux
 *   fails a read on a reset stream even with the SYNC already buffered (`Stream.Read`,
 *   go-yamux v5.1.0): a go peer not scheduled within that RTT/2 loses it
 *   ("ProtocolError: failed to read message from initiator: stream reset" in the go
 *   client's events), and the rust peer dials alone, from its listen port. Its unanswered
 *   SYNs leave a SYN_SENT conntrack entry for that 4-tuple in the rust peer's own NAT router.
 *   On rust-libp2p's next two tries, when the go peer reads SYNC and dials, its SYNs (its
 *   router keeps their port) reach the rust host through that entry, but the router's
 *   conntrack calls the host's SYN-ACKs invalid (the entry tracks the lone dial's handshake,
 *   not this one), so they leave un-NAT'd, from 10.0.1.2, and are lost; rust-libp2p's own
 *   retry dials come from new ports, which the go peer's router drops. So the whole attempt
 *   stays relayed. A Linux NAT router in a deployment keeps the same entry (for 120 s), so
 *   the lab does not clear it mid-attempt. Measured (nft traces and `conntrack -L` of both
 *   routers, 2026-12-06): 5 of 10 attempts lost the race with the go client at nice 19
 *   beside `stress-ng --cpu 2`, each missed whole, the 5 others went direct; this case, so
 *   starved, failed 3 of 5 runs, each on two misses of the race (7 of 15 attempts). 1 in 20
 *   on a quieter machine, 0 of 12 beside `stress-ng --cpu 2` alone (docs/INTEROP.md).
 * - With one peer public, rust-libp2p offers only the TCP addresses identify observed and
 *   skips the unilateral upgrade the DCUtR spec asks for first (go-libp2p dials a public
 *   peer directly). Its simultaneous TCP open then races the public peer's own SYN against
 *   the other's reaching its listening socket: lost, both ends wait as listeners in
 *   multistream-select until the dial times out (10 s; `RUST_LOG=libp2p_swarm=debug` shows
 *   "Incoming connection failed … Select(Failed)"), and the next attempt races again. Seen in
 *   about 1 of 5 tries of rust->rust public.
 */
export function directNeeded(options: {
  dialer: ClientName;
  listener: ClientName;
  nat: NatSetting;
  attempts: number;
}): number {
  const { dialer, listener, nat, attempts } = options;
  if (!expectDirect(dialer, listener, nat)) return 0;
  if (listener === "rust") return Math.ceil(attempts / 3);
  return attempts;
}

/** What one attempt showed. */
export interface AttemptResult {
  readonly direct: boolean;
  /** Relayed connection opened → direct connection opened, on the dialer's clock. */
  readonly directAfterMs?: number;
  /** The dialer's echo went over the direct connection. */
  readonly trafficDirect: boolean;
  /** The dialer's first echo lost its connection to the peer's dial race and ran again. */
  readonly echoRetried: boolean;
  /** Expected a direct connection, and none came (a problem unless the case tolerates it). */
  readonly missedDirect: boolean;
  /** For a missed one: what the clients' DCUtR events show (./dcutr_events.ts). */
  readonly missCause?: string;
  /** Observed addresses checked against the NAT's mapping, and how many were right. */
  readonly observedChecked: number;
  readonly observedRight: number;
  /** Problems that fail the attempt. */
  readonly problems: readonly string[];
  readonly outcome: PairOutcome;
}

/**
 * Checks identify's observed addresses from hopd against the truth: for a host behind a NAT,
 * the public endpoint its router maps the connection to hopd to; for a public host, its own
 * address.
 */
function observedProblems(
  label: string,
  result: ClientResult | undefined,
  host: LabHost,
  mapped: ReadonlySet<string>,
): { checked: number; right: number; problems: string[] } {
  const problems: string[] = [];
  let checked = 0;
  let right = 0;
  for (const addr of result?.observedAddrs ?? []) {
    const m = /^\/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(addr);
    checked++;
    if (m === null) {
      problems.push(`${label} observed ${addr}: not an /ip4/…/tcp address`);
      continue;
    }
    const ok = host.routerNs === undefined ? m[1] === host.ip : mapped.has(`${m[1]}:${m[2]}`);
    if (ok) right++;
    else {
      problems.push(
        `${label} observed ${addr}, but ${
          host.routerNs === undefined ? `it is ${host.ip}` : `its NAT maps it to ${[...mapped]}`
        }`,
      );
    }
  }
  return { checked, right, problems };
}

/** The public endpoints `host`'s router maps TCP connections to the relay to. */
async function relayMappings(lab: NatLab, host: LabHost, relayPort: number): Promise<Set<string>> {
  const mappings = await lab.mappings(host);
  return new Set(
    mappings.filter((m) =>
      m.protocol === "tcp" && m.src === host.ip && m.dst === lab.relayIp && m.dport === relayPort
    ).map((m) => `${m.mappedIp}:${m.mappedPort}`),
  );
}

/** Runs one attempt of a pair in `lab` and judges it. */
async function attempt(options: {
  lab: NatLab;
  relay: string;
  relayPort: number;
  dialer: Client;
  listener: Client;
  nat: NatSetting;
  /** Wait for the relayed connection to close: at hopd's duration limit (`limitS`), or any time. */
  waitClose: false | { readonly limitS: number } | "any";
  /** Seconds the dialer waits for a direct connection (the client's default: 10). */
  holepunchWaitS?: number;
  /** A missing direct connection is counted by the case (see {@linkcode directNeeded}). */
  tolerateMissedDirect?: boolean;
}): Promise<AttemptResult> {
  const { lab, nat } = options;
  await lab.flushMappings();
  const outcome = await runPair({
    listener: options.listener,
    dialer: options.dialer,
    relay: options.relay,
    echoBytes: ECHO_BYTES,
    holepunch: true,
    waitClose: options.waitClose !== false,
    timeoutS: CLIENT_TIMEOUT_S,
    holepunchWaitS: options.holepunchWaitS,
    listenerPrefix: ["ip", "netns", "exec", lab.a.ns],
    dialerPrefix: ["ip", "netns", "exec", lab.b.ns],
  });
  const problems: string[] = [];
  const l = outcome.listener.result;
  const d = outcome.dialer?.result;
  if (l === undefined) problems.push(`listener: ${outcome.listener.error ?? "no result"}`);
  else if (!l.ok) problems.push(`listener: ${l.errors.join("; ")}`);
  if (d === undefined) problems.push(`dialer: ${outcome.dialer?.error ?? "not started"}`);
  else if (!d.ok) problems.push(`dialer: ${d.errors.join("; ")}`);
  if (d?.connect?.relayed !== true) problems.push("dialer has no relayed connection");
  const echoOk = d?.echo?.intact === true && d.echo.received === ECHO_BYTES;
  if (!echoOk) problems.push(`echo: received ${d?.echo?.received ?? "-"} of ${ECHO_BYTES}`);

  const direct = d?.holepunch?.direct === true;
  const trafficDirect = direct && d?.echo?.via === "direct";
  const expected = expectDirect(options.dialer.name, options.listener.name, nat);
  const missedDirect = expected && !direct;
  const account = missedDirect ? accountDcutr([l, d]) : undefined;
  if (missedDirect && !options.tolerateMissedDirect) problems.push("no direct connection");
  // A miss is tolerated for the races inside the implementations, which come after hopd has
  // carried the DCUtR exchange; one without a sign of that exchange may be hopd's.
  if (missedDirect && options.tolerateMissedDirect && !account!.exchangeRelayed) {
    problems.push(
      `no direct connection, and no sign hopd carried a DCUtR exchange (${account!.summary})`,
    );
  }
  if (!expected && direct) problems.push("a direct connection, where none can be");
  if (direct && !trafficDirect) problems.push(`the echo went ${d?.echo?.via}, not direct`);
  if (!direct && d?.echo !== null && d?.echo?.via !== "relayed") {
    problems.push(`no direct connection, yet the echo went ${d?.echo?.via}`);
  }
  if (typeof options.waitClose === "object") {
    // The relayed connection carried the echo and stayed up to hopd's duration limit. Each
    // client times it from when its connection opened, which is after hopd started the limit's
    // clock by the circuit's setup (noise and yamux over it): the dialer's connect time bounds
    // that (on a loaded host it passed 1 s: closed after 13.8 s of a 15 s limit).
    const limitMs = options.waitClose.limitS * 1000;
    const earliestMs = limitMs - 1_000 - (d?.connect?.ms ?? 0);
    for (const [label, result] of [["listener", l], ["dialer", d]] as const) {
      const after = result?.closed?.afterMs;
      if (after === undefined || after < earliestMs || after > limitMs + CLOSE_SLACK_MS) {
        problems.push(
          `${label}: relayed connection closed after ${after ?? "never"} ms, not at the ` +
            `${options.waitClose.limitS} s limit (from ${earliestMs} to ${
              limitMs + CLOSE_SLACK_MS
            } ms)`,
        );
      }
    }
  }

  let observedChecked = 0;
  let observedRight = 0;
  for (const [label, result, host] of [["listener", l, lab.a], ["dialer", d, lab.b]] as const) {
    const mapped = await relayMappings(lab, host, options.relayPort);
    const seen = observedProblems(label, result, host, mapped);
    observedChecked += seen.checked;
    observedRight += seen.right;
    problems.push(...seen.problems);
    // go and rust report identify's observed address from hopd; js-libp2p drops TCP ones.
    if (result !== undefined && !isJs(result.impl) && seen.checked === 0) {
      problems.push(`${label} (${result.impl}) reported no observed address from hopd`);
    }
  }
  const directAfterMs = d?.holepunch?.directAfterMs ?? undefined;
  return {
    direct,
    ...(directAfterMs === undefined || directAfterMs === null ? {} : { directAfterMs }),
    trafficDirect,
    echoRetried: d?.echo?.firstError !== undefined,
    missedDirect,
    ...(account === undefined ? {} : { missCause: account.summary }),
    observedChecked,
    observedRight,
    problems,
    outcome,
  };
}

/** The p-th percentile (0–100, nearest rank) of `values`; undefined when empty. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))];
}

/** What hopd's circuit histograms say about the cell's circuits. */
export interface RelayView {
  readonly circuits: number;
  /** Ended by a peer within SHORT_CIRCUIT_S with at most SMALL_CIRCUIT_BYTES (upper bound). */
  readonly endedByPeerShort: number;
  readonly endedByRelay: number;
  readonly durationLimit: number;
  readonly meanBytes: number;
}

/**
 * Reads hopd's circuit histograms (docs/RELAY.md) from a /metrics body.
 *
 * @param text The /metrics body.
 * @returns The cell's circuits as hopd saw them.
 */
export function relayView(text: string): RelayView {
  const samples = parseMetrics(text);
  const circuits = sampleSum(samples, "hopd_circuit_duration_seconds_count");
  const short = (by: string) =>
    sampleSum(samples, "hopd_circuit_duration_seconds_bucket", {
      ended_by: by,
      le: String(SHORT_CIRCUIT_S),
    });
  const small = (by: string) =>
    sampleSum(samples, "hopd_circuit_bytes_bucket", {
      ended_by: by,
      le: String(SMALL_CIRCUIT_BYTES),
    });
  return {
    circuits,
    endedByPeerShort: Math.min(short("initiator"), small("initiator")) +
      Math.min(short("target"), small("target")),
    endedByRelay: sampleSum(samples, "hopd_circuit_duration_seconds_count", { ended_by: "relay" }),
    durationLimit: sampleSum(samples, "hopd_circuits_closed_total", { reason: "duration_limit" }),
    meanBytes: circuits === 0 ? 0 : sampleSum(samples, "hopd_circuit_bytes_sum") / circuits,
  };
}

/** Environment of the lab's hopd: policies off, a short duration limit. */
function hopdEnv(durationS: number): Record<string, string> {
  return {
    HOPD_POLICY_ENABLED: "false",
    HOPD_RELAY_CIRCUIT_DURATION: `${durationS}s`,
    HOPD_RELAY_CIRCUIT_DATA: String(256 * 1024),
  };
}

/** Runs `fn` in a fresh lab behind `nat` with hopd (duration limit `durationS`). */
function inLab<T>(
  nat: NatSetting,
  durationS: number,
  fn: (ctx: LabWithHopd) => Promise<T>,
): Promise<T> {
  return inLabWithHopd({ a: nat.listener, b: nat.dialer, env: hopdEnv(durationS) }, fn);
}

/** One case: a pair behind a NAT setting, `attempts` times, in a lab of its own. */
function holepunchCase(options: {
  dialer: Client;
  listener: Client;
  nat: NatSetting;
  attempts: number;
}): Case {
  const { dialer, listener, nat, attempts } = options;
  const name = `${dialer.name}->${listener.name} nat=${nat.name}`;
  const expected = expectDirect(dialer.name, listener.name, nat);
  const needed = directNeeded({ dialer: dialer.name, listener: listener.name, nat, attempts });
  const tolerateMissedDirect = needed < attempts;
  const durationS = expected ? DIRECT_CIRCUIT_DURATION_S : CIRCUIT_DURATION_S;
  const holepunchWaitS = expected ? DIRECT_WAIT_S : undefined;
  return {
    name: `holepunch ${name}`,
    run: () =>
      inLab(nat, durationS, async ({ lab, relay, relayPort, metrics }) => {
        const results: AttemptResult[] = [];
        for (let i = 0; i < attempts; i++) {
          // Waiting for the duration limit is slow: the symmetric cells do it on the first
          // attempt of a CI run, on every attempt of a full one.
          const waitClose = nat.name === "symmetric" && (i === 0 || attempts >= FULL_RUN_ATTEMPTS)
            ? { limitS: CIRCUIT_DURATION_S }
            : false;
          results.push(
            await attempt({
              lab,
              relay,
              relayPort,
              dialer,
              listener,
              nat,
              waitClose,
              holepunchWaitS,
              tolerateMissedDirect,
            }),
          );
        }
        return report({ name, nat, results, needed, view: relayView(await metrics()) });
      }),
  };
}

/** hopd's duration limit in the circuit-end cases: what a peer that keeps the circuit waits. */
const END_CASE_DURATION_S = 5;

/**
 * Who ends the circuit once a hole punch has succeeded, when both clients stay up (the
 * operator's view, docs/RELAY.md): go-libp2p keeps the relayed connection until the relay's
 * limit; js-libp2p's DCUtR closes it at once; rust-libp2p leaves it to the application, and the
 * rust client closes it as an application would (libp2p-stream picks any connection).
 */
export const CIRCUIT_ENDS: readonly {
  readonly dialer: ClientName;
  readonly listener: ClientName;
  readonly nat: NatSetting["name"];
  /** "peer": the initiator or the target, within a second (whose FIN reaches hopd first races). */
  readonly endedBy: "peer" | "relay";
}[] = [
  { dialer: "go", listener: "go", nat: "eim", endedBy: "relay" },
  { dialer: "rust", listener: "rust", nat: "eim", endedBy: "peer" },
  { dialer: "go", listener: "node", nat: "public", endedBy: "peer" },
];

/** A peer that closes its circuit after a hole punch does so within this. */
const PEER_END_WITHIN_S = 1;

function circuitEndCase(options: {
  dialer: Client;
  listener: Client;
  nat: NatSetting;
  endedBy: "peer" | "relay";
}): Case {
  const { dialer, listener, nat, endedBy } = options;
  const name = `${dialer.name}->${listener.name} nat=${nat.name} circuit after the hole punch`;
  return {
    name: `holepunch ${name}`,
    run: () =>
      inLab(nat, END_CASE_DURATION_S, async ({ lab, relay, relayPort, metrics }) => {
        const result = await attempt({
          lab,
          relay,
          relayPort,
          dialer,
          listener,
          nat,
          waitClose: "any",
        });
        const samples = parseMetrics(await metrics());
        const by = (["initiator", "target", "relay"] as const).find((b) =>
          sampleSum(samples, "hopd_circuit_duration_seconds_count", { ended_by: b }) > 0
        );
        const lifeS = sampleSum(samples, "hopd_circuit_duration_seconds_sum");
        const kib = sampleSum(samples, "hopd_circuit_bytes_sum") / 1024;
        const problems = [...result.problems];
        const asExpected = endedBy === "relay"
          ? by === "relay" && Math.abs(lifeS - END_CASE_DURATION_S) < 1
          : (by === "initiator" || by === "target") && lifeS < PEER_END_WITHIN_S;
        if (!asExpected) {
          problems.push(`ended by ${by ?? "nobody"} after ${lifeS} s, expected ${endedBy}`);
        }
        const ok = problems.length === 0;
        return {
          ok,
          line: `holepunch ${name}: ended by the ${by ?? "-"} after ${lifeS.toFixed(1)} s` +
            (by === "relay" ? ` (hopd's ${END_CASE_DURATION_S} s limit)` : "") +
            `, ${kib.toFixed(1)} KiB`,
          detail: ok ? undefined : `${problems.join("\n")}\n${pairDetail(result.outcome)}`,
        };
      }),
  };
}

function report(options: {
  name: string;
  nat: NatSetting;
  results: readonly AttemptResult[];
  /** Attempts that must reach a direct connection (missed ones not already problems). */
  needed?: number;
  view: RelayView;
}): CaseOutcome {
  const { name, results, view } = options;
  const n = results.length;
  const direct = results.filter((r) => r.direct).length;
  const times = results.flatMap((r) => r.directAfterMs === undefined ? [] : [r.directAfterMs]);
  const p50 = percentile(times, 50);
  const moved = results.filter((r) => r.trafficDirect).length;
  const checked = results.reduce((s, r) => s + r.observedChecked, 0);
  const right = results.reduce((s, r) => s + r.observedRight, 0);
  const parts = [`${direct}/${n} direct`];
  if (p50 !== undefined) {
    parts.push(`p50 ${Math.round(p50)} ms, p90 ${Math.round(percentile(times, 90)!)} ms`);
  }
  if (direct > 0) parts.push(`traffic direct ${moved}/${direct}`);
  const late = times.filter((t) => t >= RETRIED_AFTER_MS).length;
  if (late > 0) parts.push(`${late} direct only on a later hole-punch attempt`);
  const retried = results.filter((r) => r.echoRetried).length;
  if (retried > 0) parts.push(`${retried} echo(es) rerun after a dial race closed the first`);
  if (direct === 0) {
    parts.push(options.nat.name === "symmetric" ? "relayed to the limit" : "stayed relayed");
  }
  // Every miss with what the clients' events show, so a tolerated one can be read as well.
  const missed = results.map((r, i) => ({ r, i })).filter(({ r }) => r.missedDirect);
  for (const { r, i } of missed.slice(0, 3)) parts.push(`attempt ${i + 1} missed: ${r.missCause}`);
  if (missed.length > 3) parts.push(`${missed.length - 3} more missed`);
  parts.push(`observed addr ${right}/${checked} right`);
  parts.push(
    `hopd: ${view.circuits} circuits, ${view.endedByPeerShort} ended by a peer <= ${SHORT_CIRCUIT_S} s` +
      `, ${Math.round(view.meanBytes / 1024 * 10) / 10} KiB mean`,
  );
  const problems: string[] = [];
  if (view.circuits < n) problems.push(`hopd ended ${view.circuits} circuits for ${n} attempts`);
  const needed = options.needed ?? 0;
  if (direct < needed) {
    problems.push(`${direct}/${n} direct, at least ${needed} needed`);
    // The misses that are problems of their own are shown with the failed attempts below.
    const tolerated = missed.filter(({ r }) => r.problems.length === 0);
    for (const { r, i } of tolerated.slice(0, 3)) {
      problems.push(`attempt ${i + 1} missed (${r.missCause}):\n${pairDetail(r.outcome)}`);
    }
  }
  const failed = results.map((r, i) => ({ r, i })).filter(({ r }) => r.problems.length > 0);
  for (const { r, i } of failed.slice(0, 3)) {
    problems.push(`attempt ${i + 1}: ${r.problems.join("; ")}\n${pairDetail(r.outcome)}`);
  }
  if (failed.length > 3) problems.push(`… and ${failed.length - 3} more attempts failed`);
  const ok = problems.length === 0;
  return {
    ok,
    line: `holepunch ${name}: ${parts.join(", ")}`,
    detail: ok ? undefined : problems.join("\n"),
  };
}

/**
 * The hole-punch suite: every pair of {@linkcode PAIRS} whose clients are built, behind every
 * NAT setting. Needs root, `ip`, `nft` and `conntrack` (scripts/test_deps.sh installs them).
 */
export const holepunchSuite: Suite = {
  name: "holepunch",
  // Most of a case's time is a wait (a relayed cell waits out the clients' 10 s for a direct
  // connection or hopd's 15 s duration limit; bench/RESULTS.md, test command section).
  jobs: HOLEPUNCH_JOBS,
  async prepare({ clients, attempts }) {
    const unavailable = await labUnavailable();
    if (unavailable !== undefined) {
      if (Deno.env.get("CI") === "true") throw new Error(`the NAT lab cannot run: ${unavailable}`);
      console.log(`interop holepunch: left out, the NAT lab cannot run: ${unavailable}`);
      return { cases: [], close: () => Promise.resolve() };
    }
    // The cells that wait longest (no direct connection expected: they wait out a timer) start
    // first, so the short ones fill the slots beside them instead of trailing at the end.
    const relayed: Case[] = [];
    const direct: Case[] = [];
    for (const nat of NAT_SETTINGS) {
      for (const [dialerName, listenerName] of PAIRS) {
        const dialer = clients.get(dialerName);
        const listener = clients.get(listenerName);
        if (dialer === undefined || listener === undefined) continue;
        const expected = expectDirect(dialerName, listenerName, nat);
        const byDefault = expected ? DEFAULT_ATTEMPTS.direct : DEFAULT_ATTEMPTS.relayed;
        (expected ? direct : relayed).push(
          holepunchCase({ dialer, listener, nat, attempts: attempts ?? byDefault }),
        );
      }
    }
    const cases: Case[] = [...relayed, ...direct];
    for (const end of CIRCUIT_ENDS) {
      const dialer = clients.get(end.dialer);
      const listener = clients.get(end.listener);
      const nat = NAT_SETTINGS.find((n) => n.name === end.nat)!;
      if (dialer === undefined || listener === undefined) continue;
      cases.push(circuitEndCase({ dialer, listener, nat, endedBy: end.endedBy }));
    }
    return { cases, close: () => Promise.resolve() };
  },
};
