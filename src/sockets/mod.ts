/**
 * The socket guard: the first code every inbound socket meets, on every listener (libp2p
 * TCP, WS, WSS and the ops HTTP server). A public relay is sent sockets that never speak,
 * request heads that never end and more connections than it has file descriptors; the guard
 * keeps each of those from costing other clients their service.
 *
 * Flow, per accepted socket (`SocketGuard.attach` puts itself in front of a node:net
 * server's `connection` listeners):
 *
 * 1. the rate limiter and bans are asked (`admitIp`, libp2p listeners only);
 * 2. the group's {@linkcode SocketTable} bounds the sockets still in their header or
 *    handshake phase per IP, per subnet and in total, and the {@linkcode FdBudget} keeps
 *    `connections.fd_reserve` descriptors free; at a bound the oldest socket of the same IP,
 *    of the same subnet or of the most-represented subnet is shed (reset) to make room, and
 *    only when nothing can be shed is the new socket refused;
 * 3. each phase has a deadline (header, handshake, request, idle) checked every 250 ms;
 *    established libp2p connections that read nothing for `connections.idle_timeout` are
 *    closed (hopd pings every connection every 30 s, so a live peer always answers);
 * 4. a listener that accepted nothing for 5 s gets a loopback probe connection; when it is
 *    not accepted (Deno's node:net accept loop never resumes after one EMFILE) the listener
 *    is opened again and /ready says so until it accepts.
 *
 * Every socket closed is counted (`hopd_socket_refusals_total`, `hopd_socket_timeouts_total`)
 * and summarized in at most one log line per group every 10 s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import net from "node:net";
 * import { once } from "node:events";
 * import { SYSTEM_CLOCK as clock } from "../clock/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import { relistenWith, socketGuards } from "./mod.ts";
 * const guards = socketGuards(defaultConfig(), { clock, admitLibp2p: () => undefined });
 * const options = { host: "127.0.0.1", port: 0 };
 * const server = net.createServer((socket) => socket.end("hello\n")).listen(options);
 * await once(server, "listening");
 * const relisten = relistenWith(server, options);
 * guards.ops.attach(server, { label: "ops", firstPhase: "header", relisten });
 * guards.ops.start();
 * assert.deepEqual(guards.ops.readinessReasons(), []);
 * assert.equal(guards.ops.stats().accepting.get("ops"), true);
 * guards.ops.stop();
 * server.close();
 * await once(server, "close");
 * ```
 *
 * @module
 */

import type net from "node:net";
import type { ResolvedConfig } from "../config/mod.ts";
import type { Clock } from "../clock/mod.ts";
import { denoFdProbe, FdBudget, type FdProbe } from "./fd_budget.ts";
import { SocketGuard } from "./socket_guard.ts";

export { denoFdProbe, FdBudget, SocketGuard };
export type { FdBudgetInit, FdProbe } from "./fd_budget.ts";
export type {
  GuardedServerInit,
  SocketGuardInit,
  SocketGuardStats,
  SocketGuardTimeouts,
} from "./socket_guard.ts";
export type { SocketTableLimits } from "./socket_table.ts";
export { registerSocketMetrics } from "./metrics.ts";

/**
 * How to open `server`'s listening socket again with the options it was first opened with
 * (the connections it holds stay open). A server first opened on port 0 comes back on the port
 * it got, not on a new one: its address is what clients, scripts and announced multiaddrs use.
 *
 * @param server A node:net server.
 * @param options The options of its first `listen`.
 * @returns A function that closes the listening socket and listens again.
 */
export function relistenWith(
  server: net.Server,
  options: net.ListenOptions,
): () => Promise<void> {
  return () =>
    new Promise<void>((resolve, reject) => {
      const bound = server.address();
      const again = !options.port && bound !== null && typeof bound !== "string"
        ? { ...options, port: bound.port }
        : options;
      server.close();
      const onError = (error: Error) => reject(error);
      server.once("error", onError);
      server.listen(again, () => {
        server.off("error", onError);
        resolve();
      });
    });
}

/** The guards of a node: one per listener group, sharing one descriptor budget. */
export interface SocketGuards {
  /** The descriptor budget the guards share. */
  readonly fds: FdBudget;
  /** libp2p's TCP, WS and WSS listeners. */
  readonly libp2p: SocketGuard;
  /** The ops HTTP server. */
  readonly ops: SocketGuard;
}

/** What {@linkcode socketGuards} needs besides the config. */
export interface SocketGuardsComponents {
  /** Timeouts, sweeps and probe spacing run on it. */
  readonly clock: Clock;
  /** Asked first for each libp2p socket; a reason refuses it (draining, rate limits, bans). */
  readonly admitLibp2p: (ip: string) => string | undefined;
  /**
   * Counts the process's open descriptors.
   *
   * @default denoFdProbe()
   */
  readonly fdProbe?: FdProbe;
}

/**
 * Builds a node's socket guards from its config. The libp2p listeners keep `fd_reserve`
 * descriptors free for hopd itself, and the ops server's connections are drawn from that
 * reserve: it may use three quarters of it (so operators can still reach /metrics and the admin
 * API when libp2p is refused), the rest is left for files and outbound dials. What the ops
 * server holds of its share is not counted against the libp2p listeners: an ops flood, up to
 * `http.max_connections`, does not leave libp2p clients refused (or /ready at 503) on a host
 * whose RLIMIT_NOFILE is not far above `fd_reserve` + `http.max_connections`.
 *
 * @param config The resolved `[connections]`, `[http]` and `[relay]` (subnet prefixes).
 * @param components The clock and the libp2p admission check.
 * @returns The guards (not started).
 */
export function socketGuards(
  config: Pick<ResolvedConfig, "connections" | "http" | "relay">,
  components: SocketGuardsComponents,
): SocketGuards {
  const { connections, http, relay } = config;
  const { clock } = components;
  const fds = new FdBudget({
    reserve: connections.fdReserve,
    probe: components.fdProbe ?? denoFdProbe(),
    clock,
  });
  const subnets = { subnetPrefixV4: relay.subnetPrefixV4, subnetPrefixV6: relay.subnetPrefixV6 };
  const opsKeep = Math.floor(connections.fdReserve / 4);
  const opsShare = connections.fdReserve - opsKeep;
  const ops = new SocketGuard({
    group: "ops",
    // Every ops connection stays in the table (kept-alive ones are shed first); subnets are
    // not bounded apart from the total.
    limits: {
      maxPerIp: http.maxConnectionsPerIp,
      maxPerSubnet: http.maxConnections,
      maxTotal: http.maxConnections,
    },
    timeouts: {
      headerMs: http.headerTimeoutMs,
      handshakeMs: http.headerTimeoutMs,
      requestMs: http.requestTimeoutMs,
      idleMs: http.idleTimeoutMs,
    },
    fds,
    fdKeep: opsKeep,
    clock,
    ...subnets,
  });
  const libp2p = new SocketGuard({
    group: "libp2p",
    limits: {
      maxPerIp: connections.maxPendingPerIp,
      maxPerSubnet: connections.maxPendingPerSubnet,
      maxTotal: connections.maxPendingInbound,
    },
    timeouts: {
      headerMs: connections.headerTimeoutMs,
      handshakeMs: connections.inboundUpgradeTimeoutMs,
      requestMs: 0,
      idleMs: connections.idleTimeoutMs,
    },
    fds,
    // The ops sockets within the ops share are the reserve being used as meant: at
    // RLIMIT_NOFILE 512, 256 half-open ops requests left 122 descriptors free and refused every
    // libp2p client while the flood lasted (tests/socket_exhaustion_e2e_test.ts).
    fdKeep: () => connections.fdReserve - Math.min(ops.held, opsShare),
    clock,
    ...subnets,
    admitIp: components.admitLibp2p,
  });
  return { fds, libp2p, ops };
}
