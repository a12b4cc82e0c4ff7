/**
 * The AutoNAT v1 server: one call of {@linkcode AutonatServer.handle} per inbound
 * `/libp2p/autonat/1.0.0` stream. It reads one DIAL request, dials the peer back on a new
 * connection at the addresses it asked for (each moved onto the IP the request came from:
 * hopd never dials anyone but the requester) and answers OK with the address it reached, or
 * E_DIAL_ERROR when none answered. Refusals are answers too: E_DIAL_REFUSED over the rate
 * limits, from a relayed connection, from a non-public IP or with nothing to dial;
 * E_BAD_REQUEST for a request that is not a DIAL for the sender itself.
 *
 * A peer's bad bytes never throw past its stream: it is reset, counted and logged at debug.
 *
 * @module
 */

import type { Connection, Stream } from "@libp2p/interface";
import { isPrivate, lpStream } from "@libp2p/utils";
import { getLogger } from "@logtape/logtape";
import {
  CODE_IP4,
  CODE_IP6,
  CODE_P2P,
  CODE_P2P_CIRCUIT,
  CODE_TCP,
  CODE_WS,
  type Multiaddr,
  multiaddr,
} from "@multiformats/multiaddr";
import type { ResolvedAutonatConfig } from "../config/mod.ts";
import { abortAfter, type Clock } from "../clock/mod.ts";
import { KeyedLimiter, TokenBucket } from "../ratelimit/mod.ts";
import { AUTONAT_MAX_MESSAGE_BYTES, AUTONAT_STREAM_TIMEOUT_MS } from "./constants.ts";
import type { AutonatMetrics, AutonatResult } from "./metrics.ts";
import { decodeAutonatMessage, encodeAutonatMessage } from "./pb/autonat.ts";
import type { DialResponse, ResponseStatus } from "./pb/autonat.ts";

const log = getLogger(["hopd", "autonat"]);

/** What the server needs; the daemon gives the real ones, tests fakes. */
export interface AutonatServerComponents {
  /** `[autonat]`, resolved: the rate limits, dial timeout and address cap. */
  readonly config: ResolvedAutonatConfig;
  /** Drives the rate limiters' refill. */
  readonly clock: Clock;
  /** Where requests and dial-backs are counted. */
  readonly metrics: AutonatMetrics;
  /** Most peers the per-peer limiter remembers (`limits.max_tracked_keys`). */
  readonly maxTrackedPeers: number;
  /**
   * Dials `addr` (with `/p2p/<peer>`) on a new connection, closes it, and resolves with the
   * address it reached; rejects when the dial fails or `signal` aborts.
   */
  dialBack(addr: Multiaddr, signal: AbortSignal): Promise<Multiaddr>;
}

/** A refusal or a failure that ends a request with one answer. */
interface Answer {
  readonly result: AutonatResult;
  readonly response: DialResponse;
}

function refuse(result: AutonatResult, status: ResponseStatus, text: string): Answer {
  return { result, response: { status, statusText: text } };
}

/** Whether `addr` is one hopd can dial back: IP, TCP port, optionally WebSockets. */
function dialable(addr: Multiaddr): boolean {
  const codes = addr.getComponents().map((c) => c.code).filter((c) => c !== CODE_P2P);
  if (codes.includes(CODE_P2P_CIRCUIT)) return false;
  if (codes[0] !== CODE_IP4 && codes[0] !== CODE_IP6) return false;
  if (codes[1] !== CODE_TCP) return false;
  return codes.length === 2 || (codes.length === 3 && codes[2] === CODE_WS);
}

/** `addr` with its IP replaced by `ip` (a component list rebuilt, not a string edit). */
function onIp(addr: Multiaddr, ip: Multiaddr): Multiaddr {
  const rest = addr.getComponents().slice(1).filter((c) => c.code !== CODE_P2P);
  return rest.reduce((acc, c) => acc.encapsulate(`/${c.name}${c.value ? `/${c.value}` : ""}`), ip);
}

/** Serves AutoNAT v1 requests. */
export class AutonatServer {
  readonly #c: AutonatServerComponents;
  readonly #perPeer: KeyedLimiter;
  readonly #global: TokenBucket;

  /**
   * Creates the server with its per-peer and global limiters.
   *
   * @param components Config, clock, metrics and the dialer.
   */
  constructor(components: AutonatServerComponents) {
    this.#c = components;
    const { config, clock } = components;
    this.#perPeer = new KeyedLimiter({
      ratePerSecond: config.dialsPerPeer.ratePerSecond,
      burst: config.dialsPerPeer.burst,
      maxKeys: components.maxTrackedPeers,
    });
    this.#global = new TokenBucket(
      config.dialsGlobal.ratePerSecond,
      config.dialsGlobal.burst,
      clock.nowMs(),
    );
  }

  /**
   * Serves one inbound AutoNAT stream. Never rejects.
   *
   * @param stream The stream.
   * @param connection The connection it arrived on.
   */
  async handle(stream: Stream, connection: Connection): Promise<void> {
    const { config, metrics } = this.#c;
    // The whole exchange: reading the request, every dial-back, writing the answer.
    const timeout = abortAfter(this.#c.clock, config.dialTimeoutMs + AUTONAT_STREAM_TIMEOUT_MS);
    const { signal } = timeout;
    const framed = lpStream(stream, { maxDataLength: AUTONAT_MAX_MESSAGE_BYTES });
    let answer: Answer;
    try {
      const request = decodeAutonatMessage(await framed.read({ signal }));
      answer = await this.#answer(request, connection, signal);
      await framed.write(
        encodeAutonatMessage({ type: "DIAL_RESPONSE", dialResponse: answer.response }),
        { signal },
      );
      await stream.close({ signal });
    } catch (error) {
      metrics.request("stream_error");
      log.debug("autonat stream from {peer} reset: {error}", {
        peer: connection.remotePeer.toString(),
        error: (error as Error)?.message,
      });
      stream.abort(error instanceof Error ? error : new Error(String(error)));
      return;
    } finally {
      timeout.clear();
    }
    metrics.request(answer.result);
    log.debug("autonat {result} for {peer}: {text}", {
      result: answer.result,
      peer: connection.remotePeer.toString(),
      text: answer.response.statusText ?? "",
    });
  }

  async #answer(
    request: ReturnType<typeof decodeAutonatMessage>,
    connection: Connection,
    signal: AbortSignal,
  ): Promise<Answer> {
    const peer = request.dial?.peer;
    if (request.type !== "DIAL" || peer === undefined) {
      return refuse("bad_request", "E_BAD_REQUEST", "expected a DIAL with peer info");
    }
    const sender = connection.remotePeer.toMultihash().bytes;
    if (peer.id !== undefined && !equalBytes(peer.id, sender)) {
      return refuse("bad_request", "E_BAD_REQUEST", "peer id mismatch");
    }
    if (connection.limits !== undefined || !dialable(connection.remoteAddr)) {
      return refuse("refused_connection", "E_DIAL_REFUSED", "not over a direct TCP connection");
    }
    const observed = connection.remoteAddr;
    if (isPrivate(observed)) {
      return refuse("refused_address", "E_DIAL_REFUSED", "refusing to dial a non-public address");
    }
    const targets = this.#targets(observed, peer.addrs, connection);
    if (targets.length === 0) {
      return refuse("refused_address", "E_DIAL_REFUSED", "no dialable addresses");
    }
    const nowMs = this.#c.clock.nowMs();
    if (!this.#perPeer.take(connection.remotePeer.toString(), nowMs)) {
      return refuse("refused_rate_limit", "E_DIAL_REFUSED", "too many dials");
    }
    if (!this.#global.take(nowMs)) {
      this.#perPeer.refund(connection.remotePeer.toString());
      return refuse("refused_rate_limit", "E_DIAL_REFUSED", "too many dials");
    }
    return await this.#dialBack(targets, signal);
  }

  /** The observed address, then the requested ones moved onto the observed IP; deduplicated. */
  #targets(observed: Multiaddr, requested: Uint8Array[], connection: Connection): Multiaddr[] {
    const ip = multiaddr(
      `/${observed.getComponents()[0]!.name}/${observed.getComponents()[0]!.value}`,
    );
    const seen = new Set<string>();
    const targets: Multiaddr[] = [];
    const add = (addr: Multiaddr) => {
      const key = addr.toString();
      if (!dialable(addr) || seen.has(key) || targets.length >= this.#c.config.maxAddrs) return;
      seen.add(key);
      targets.push(addr);
    };
    add(onIp(observed, ip));
    for (const bytes of requested) {
      let addr: Multiaddr;
      try {
        addr = multiaddr(bytes);
      } catch {
        continue; // An address that does not parse is one hopd cannot dial.
      }
      const first = addr.getComponents()[0];
      if (first?.code !== CODE_IP4 && first?.code !== CODE_IP6) continue;
      add(onIp(addr, ip));
    }
    return targets.map((addr) => addr.encapsulate(`/p2p/${connection.remotePeer}`));
  }

  async #dialBack(targets: Multiaddr[], signal: AbortSignal): Promise<Answer> {
    const { config, metrics, clock } = this.#c;
    let lastError = "";
    // One budget for every target, so a request costs at most dial_timeout of dialing.
    const budget = abortAfter(clock, config.dialTimeoutMs);
    const dialSignal = AbortSignal.any([signal, budget.signal]);
    try {
      for (const target of targets) {
        const startedMs = clock.nowMs();
        try {
          const reached = await this.#c.dialBack(target, dialSignal);
          metrics.dialed("ok", (clock.nowMs() - startedMs) / 1000);
          return {
            result: "ok",
            response: { status: "OK", addr: reached.decapsulateCode(CODE_P2P).bytes },
          };
        } catch (error) {
          metrics.dialed("error", (clock.nowMs() - startedMs) / 1000);
          lastError = (error as Error)?.message ?? String(error);
          if (dialSignal.aborted) break;
        }
      }
    } finally {
      budget.clear();
    }
    return refuse("dial_error", "E_DIAL_ERROR", `dial failed: ${lastError}`.slice(0, 200));
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}
