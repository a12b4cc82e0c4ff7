/**
 * The socket guard of one listener group: every socket a guarded node:net server accepts
 * comes here first. It is admitted, shed or refused (limiter, per-IP / per-subnet / total
 * bounds, file descriptors), then followed through its phases until it is an established
 * connection or is closed at its phase's deadline. A loopback probe finds listeners that
 * stopped accepting, and they are re-opened.
 *
 * @module
 */

import net from "node:net";
import { getLogger } from "@logtape/logtape";
import { subnetKey } from "../ip/mod.ts";
import type { Clock, TimerId } from "../clock/mod.ts";
import {
  ACCEPT_PROBE_INTERVAL_MS,
  ACCEPT_PROBE_TIMEOUT_MS,
  ESTABLISHED_SWEEP_MAX_MS,
  FD_REFUSAL_READY_WINDOW_MS,
  REFUSAL_LOG_INTERVAL_MS,
  SWEEP_INTERVAL_MS,
} from "./constants.ts";
import type { FdBudget } from "./fd_budget.ts";
import { type SocketPhase, SocketTable, type SocketTableLimits } from "./socket_table.ts";

const log = getLogger(["hopd", "sockets"]);

/** Deadlines of a group's phases, in milliseconds. */
export interface SocketGuardTimeouts {
  /** Accept → request head (WebSocket upgrade, ops request). */
  readonly headerMs: number;
  /** Accept → libp2p connection open. */
  readonly handshakeMs: number;
  /** Request head → response sent (ops). */
  readonly requestMs: number;
  /**
   * Ops: kept alive with no request. libp2p: established and nothing read (hopd pings every
   * connection, so a live peer always answers). 0 = never.
   */
  readonly idleMs: number;
}

/** What a guard needs. */
export interface SocketGuardInit {
  /** The group's name in logs and /ready ("libp2p", "ops"). */
  readonly group: string;
  /** How many sockets each IP, subnet and the group may hold. */
  readonly limits: SocketTableLimits;
  /** How long a socket may stay in each phase. */
  readonly timeouts: SocketGuardTimeouts;
  /** The descriptor budget shared with the other groups. */
  readonly fds: FdBudget;
  /**
   * Descriptors that must stay free after admitting one of this group's sockets; a function is
   * asked at each admission (the libp2p group's keep gives up the part of the reserve the ops
   * server's sockets hold: `socketGuards()` in mod.ts).
   */
  readonly fdKeep: number | (() => number);
  /** Timeouts and sweeps run on it. */
  readonly clock: Clock;
  /** Prefix lengths of the accounting subnets (e.g. 24 and 48). */
  readonly subnetPrefixV4: number;
  /** Prefix length of the IPv6 accounting subnets. */
  readonly subnetPrefixV6: number;
  /** Asked first for each new socket; a reason refuses it (the rate limiter, bans). */
  readonly admitIp?: (ip: string) => string | undefined;
}

/** How a server is guarded. */
export interface GuardedServerInit {
  /** Its label in metrics: "tcp", "ws", "wss", "ops". */
  readonly label: string;
  /** The phase a new socket starts in: "header" (HTTP) or "handshake" (plain TCP). */
  readonly firstPhase: "header" | "handshake";
  /** Opens the listening socket again after a stall. */
  relisten(): Promise<void>;
}

/** Counts of one group, read at scrape time. */
export interface SocketGuardStats {
  /** Sockets in the table by listener label and phase, and established ones ("established"). */
  readonly sockets: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Closed sockets by `${label} ${reason}` (refused, shed). */
  readonly refusals: ReadonlyMap<string, number>;
  /** Closed sockets by `${label} ${phase}` (deadline passed). */
  readonly timeouts: ReadonlyMap<string, number>;
  /** Listener stalls found by the probe, by label. */
  readonly stalls: ReadonlyMap<string, number>;
  /** Whether each label's listeners all accept. */
  readonly accepting: ReadonlyMap<string, boolean>;
}

interface Listener {
  readonly server: net.Server;
  readonly init: GuardedServerInit;
  accepts: number;
  lastAcceptMs: number;
  accepting: boolean;
  probe?: {
    socket: net.Socket;
    accepts: number;
    startedAtMs: number;
    localPort?: number;
    /** When a tick first found it past ACCEPT_PROBE_TIMEOUT_MS, not yet accepted. */
    overdueAtMs?: number;
  };
  relistening: boolean;
}

interface Established {
  readonly label: string;
  bytesRead: number;
  changedAtMs: number;
}

/** Guards the servers of one listener group. */
export class SocketGuard {
  readonly #init: SocketGuardInit;
  readonly #table: SocketTable<net.Socket>;
  readonly #listeners: Listener[] = [];
  readonly #labelOf = new Map<net.Socket, string>();
  readonly #byAddress = new Map<string, net.Socket>();
  readonly #established = new Map<net.Socket, Established>();
  readonly #refusals = new Map<string, number>();
  readonly #timeouts = new Map<string, number>();
  readonly #stalls = new Map<string, number>();
  readonly #unlogged = new Map<string, number>();
  #lastLogMs = -Infinity;
  #lastFdRefusalMs = -Infinity;
  #lastFdRefusalKeep = 0;
  #lastEstablishedSweepMs = -Infinity;
  #timer: TimerId | undefined;
  #changed: PromiseWithResolvers<void> | undefined;

  /** Creates a guard with an empty socket table; `attach` puts a server behind it. */
  constructor(init: SocketGuardInit) {
    this.#init = init;
    this.#table = new SocketTable(init.limits);
  }

  /**
   * Puts `server` behind the guard: its `connection` listeners run only for admitted sockets.
   * Idempotent per server.
   *
   * @param server A node:net server (listening or about to).
   * @param init Its label, first phase and how to re-open it.
   */
  attach(server: net.Server, init: GuardedServerInit): void {
    if (this.#listeners.some((listener) => listener.server === server)) return;
    const listener: Listener = {
      server,
      init,
      accepts: 0,
      lastAcceptMs: this.#init.clock.nowMs(),
      accepting: true,
      relistening: false,
    };
    this.#listeners.push(listener);
    const handlers = server.listeners("connection") as ((socket: net.Socket) => void)[];
    server.removeAllListeners("connection");
    server.on("connection", (socket: net.Socket) => {
      if (this.#admit(listener, socket)) {
        for (const handler of handlers) handler.call(server, socket);
      }
    });
  }

  /** A WebSocket upgrade request of `ip`:`port` was read: its handshake phase starts. */
  headerDone(ip: string | undefined, port: number | undefined): void {
    const socket = this.#byAddress.get(this.#addressKey(ip, port));
    if (socket === undefined) return;
    const entry = this.#table.get(socket);
    if (entry === undefined || entry.phase !== "header") return;
    // The handshake deadline still counts from accept.
    const acceptedAtMs = entry.deadlineMs - this.#init.timeouts.headerMs;
    this.#table.setPhase(socket, "handshake", acceptedAtMs + this.#init.timeouts.handshakeMs);
    this.#notify();
  }

  /** The libp2p connection from `ip`:`port` is open: it leaves the pending bounds. */
  established(ip: string | undefined, port: number | undefined): void {
    const key = this.#addressKey(ip, port);
    const socket = this.#byAddress.get(key);
    if (socket === undefined) return;
    this.#byAddress.delete(key);
    this.#table.remove(socket);
    if (this.#init.timeouts.idleMs > 0) {
      this.#established.set(socket, {
        label: this.#labelOf.get(socket) ?? "",
        bytesRead: socket.bytesRead,
        changedAtMs: this.#init.clock.nowMs(),
      });
    }
    this.#notify();
  }

  /** An ops request's head was read on `socket`: it is served until its deadline. */
  requestStarted(socket: net.Socket): void {
    this.#table.setPhase(
      socket,
      "active",
      this.#init.clock.nowMs() + this.#init.timeouts.requestMs,
    );
    this.#notify();
  }

  /** The response on `socket` was sent: it may wait for the next request until idle. */
  requestFinished(socket: net.Socket): void {
    this.#table.setPhase(socket, "idle", this.#init.clock.nowMs() + this.#init.timeouts.idleMs);
    this.#notify();
  }

  /**
   * Resolves at the next change of what {@linkcode SocketGuard.stats} counts: a socket
   * admitted, refused, moved to another phase, established, timed out or closed. A test
   * waits on it instead of polling the stats.
   */
  changed(): Promise<void> {
    return (this.#changed ??= Promise.withResolvers<void>()).promise;
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = undefined;
    changed?.resolve();
  }

  /**
   * Closes the sockets past their deadline, checks established connections for read
   * idleness, probes listeners that accepted nothing lately, and logs what was closed.
   * Runs every SWEEP_INTERVAL_MS once started; tests call it after moving the clock.
   */
  tick(): void {
    const nowMs = this.#init.clock.nowMs();
    for (const entry of this.#table.expire(nowMs)) {
      this.#byAddress.delete(this.#addressKeyOf(entry.value));
      this.#closeOnTimeout(entry.value, entry.phase === "active" ? "request" : entry.phase);
    }
    this.#sweepEstablished(nowMs);
    for (const listener of this.#listeners) this.#checkAccepting(listener, nowMs);
    this.#maybeLog(nowMs);
  }

  /** Starts the sweep timer. */
  start(): void {
    this.#timer ??= this.#init.clock.setInterval(() => this.tick(), SWEEP_INTERVAL_MS);
  }

  /** Stops the sweep timer and any probe in flight. */
  stop(): void {
    this.#init.clock.clearInterval(this.#timer);
    this.#timer = undefined;
    for (const listener of this.#listeners) {
      listener.probe?.socket.destroy();
      listener.probe = undefined;
    }
  }

  /** Sockets this group admitted that are still open (each holds a descriptor). */
  get held(): number {
    return this.#labelOf.size;
  }

  /** Why this group does not take new connections now (empty when it does). */
  readinessReasons(): string[] {
    const reasons: string[] = [];
    for (const listener of this.#listeners) {
      if (!listener.accepting) {
        reasons.push(
          `${listener.init.label} listener ${describe(listener.server)} is not accepting`,
        );
      }
    }
    if (this.#init.clock.nowMs() - this.#lastFdRefusalMs < FD_REFUSAL_READY_WINDOW_MS) {
      reasons.push(
        `refusing new ${this.#init.group} connections: one more would leave fewer than ${this.#lastFdRefusalKeep} file descriptors free`,
      );
    }
    return reasons;
  }

  /** The counts behind the metrics. */
  stats(): SocketGuardStats {
    const sockets = new Map<string, Map<string, number>>();
    const bump = (label: string, state: string) => {
      const byState = sockets.get(label) ?? new Map<string, number>();
      byState.set(state, (byState.get(state) ?? 0) + 1);
      sockets.set(label, byState);
    };
    for (const entry of this.#table.entries()) {
      bump(this.#labelOf.get(entry.value) ?? "", entry.phase);
    }
    for (const established of this.#established.values()) bump(established.label, "established");
    const accepting = new Map<string, boolean>();
    for (const listener of this.#listeners) {
      const label = listener.init.label;
      accepting.set(label, (accepting.get(label) ?? true) && listener.accepting);
    }
    return {
      sockets,
      refusals: this.#refusals,
      timeouts: this.#timeouts,
      stalls: this.#stalls,
      accepting,
    };
  }

  #admit(listener: Listener, socket: net.Socket): boolean {
    const nowMs = this.#init.clock.nowMs();
    listener.accepts++;
    listener.lastAcceptMs = nowMs;
    this.#markAccepting(listener);
    socket.on("error", () => {}); // a reset peer must not throw; close follows
    if (this.#isProbe(listener, socket)) {
      socket.destroy();
      return false;
    }
    const label = listener.init.label;
    if (socket.remoteAddress === undefined) {
      this.#refuse(socket, label, "no_address");
      return false;
    }
    const ip = canonicalIp(socket.remoteAddress);
    const refusedBy = this.#init.admitIp?.(ip);
    if (refusedBy !== undefined) {
      this.#refuse(socket, label, refusedBy);
      return false;
    }
    const { firstPhase } = listener.init;
    const fdKeep = this.#fdKeep();
    const deadlineMs = nowMs +
      (firstPhase === "header" ? this.#init.timeouts.headerMs : this.#init.timeouts.handshakeMs);
    const admission = this.#table.admit({
      value: socket,
      ip,
      subnet: subnetKey(ip, this.#init.subnetPrefixV4, this.#init.subnetPrefixV6),
      phase: firstPhase,
      deadlineMs,
      fdsFull: !this.#init.fds.fits(fdKeep),
    });
    if (!admission.ok) {
      if (admission.reason === "fd_reserve") this.#fdRefused(nowMs, fdKeep);
      this.#refuse(socket, label, admission.reason);
      return false;
    }
    if (admission.shed !== undefined) {
      const victim = admission.shed.entry.value;
      this.#byAddress.delete(this.#addressKeyOf(victim));
      this.#refuse(victim, this.#labelOf.get(victim) ?? label, admission.shed.reason);
    }
    this.#track(socket, label);
    return true;
  }

  #fdKeep(): number {
    const { fdKeep } = this.#init;
    return typeof fdKeep === "number" ? fdKeep : fdKeep();
  }

  #fdRefused(nowMs: number, keep: number): void {
    this.#lastFdRefusalMs = nowMs;
    this.#lastFdRefusalKeep = keep;
  }

  #track(socket: net.Socket, label: string): void {
    this.#init.fds.opened();
    this.#labelOf.set(socket, label);
    const key = this.#addressKeyOf(socket);
    this.#byAddress.set(key, socket);
    socket.once("close", () => {
      this.#init.fds.closed();
      this.#labelOf.delete(socket);
      this.#table.remove(socket);
      this.#established.delete(socket);
      if (this.#byAddress.get(key) === socket) this.#byAddress.delete(key);
      this.#notify();
    });
    this.#notify();
  }

  #refuse(socket: net.Socket, label: string, reason: string): void {
    count(this.#refusals, `${label} ${reason}`);
    count(this.#unlogged, `${label} ${reason}`);
    destroyNow(socket);
    this.#notify();
  }

  #closeOnTimeout(socket: net.Socket, phase: SocketPhase | "request"): void {
    const label = this.#labelOf.get(socket) ?? "";
    count(this.#timeouts, `${label} ${phase}`);
    // An idle connection closing is routine (a scraper's kept-alive socket, a vanished
    // peer): counted, not logged.
    if (phase !== "idle") count(this.#unlogged, `${label} ${phase}_timeout`);
    destroyNow(socket);
    this.#notify();
  }

  #sweepEstablished(nowMs: number): void {
    const { idleMs } = this.#init.timeouts;
    if (idleMs === 0) return;
    if (nowMs - this.#lastEstablishedSweepMs < Math.min(ESTABLISHED_SWEEP_MAX_MS, idleMs / 4)) {
      return;
    }
    this.#lastEstablishedSweepMs = nowMs;
    const idle: net.Socket[] = [];
    for (const [socket, record] of this.#established) {
      const bytesRead = socket.bytesRead;
      if (bytesRead !== record.bytesRead) {
        record.bytesRead = bytesRead;
        record.changedAtMs = nowMs;
      } else if (nowMs - record.changedAtMs >= idleMs) {
        idle.push(socket);
      }
    }
    for (const socket of idle) {
      this.#established.delete(socket);
      this.#closeOnTimeout(socket, "idle");
    }
  }

  // A listener that accepted nothing for ACCEPT_PROBE_INTERVAL_MS gets a loopback connection;
  // one not accepted in ACCEPT_PROBE_TIMEOUT_MS means the accept loop stopped (Deno's node:net
  // accept never resumes after EMFILE): the listening socket is opened again.
  #checkAccepting(listener: Listener, nowMs: number): void {
    const probe = listener.probe;
    if (probe !== undefined) {
      if (listener.accepts !== probe.accepts) {
        this.#endProbe(listener);
      } else if (nowMs - probe.startedAtMs >= ACCEPT_PROBE_TIMEOUT_MS) {
        // Overdue at one tick is not yet a stall: on a starved host the event loop can wake
        // after seconds and run this timer before the accept that waited with it (seen in CI
        // at load 24: the ops listener re-opened while it worked). A stall is a probe still
        // not accepted a sweep later, with the loop turning in between.
        if (probe.overdueAtMs === undefined) {
          probe.overdueAtMs = nowMs;
        } else if (nowMs - probe.overdueAtMs >= SWEEP_INTERVAL_MS) {
          // Not connected in time counts too: a stalled listener's backlog fills up, and then
          // the kernel drops new handshakes.
          this.#endProbe(listener);
          this.#stalled(listener, "a loopback connection was not accepted");
        }
      }
      return;
    }
    if (listener.relistening || !listener.server.listening) return;
    if (nowMs - listener.lastAcceptMs < ACCEPT_PROBE_INTERVAL_MS) return;
    this.#startProbe(listener);
  }

  #startProbe(listener: Listener): void {
    const address = listener.server.address();
    if (address === null || typeof address === "string") return;
    const host = address.address === "0.0.0.0"
      ? "127.0.0.1"
      : address.address === "::"
      ? "::1"
      : address.address;
    const socket = net.connect({ host, port: address.port });
    const probe: NonNullable<Listener["probe"]> = {
      socket,
      accepts: listener.accepts,
      startedAtMs: this.#init.clock.nowMs(),
    };
    listener.probe = probe;
    socket.on("connect", () => (probe.localPort = socket.localPort));
    socket.on("error", (error: Error & { code?: string }) => {
      if (listener.probe !== probe) return;
      this.#endProbe(listener);
      if (error.code === "EMFILE" || error.code === "ENFILE") {
        // No descriptor even for the probe: the next round tries again.
        count(this.#unlogged, `${listener.init.label} probe_emfile`);
        this.#fdRefused(this.#init.clock.nowMs(), this.#fdKeep());
        log.debug("No file descriptor free to probe the {label} listener {address} ({code})", {
          label: listener.init.label,
          address: describe(listener.server),
          code: error.code,
        });
      } else if (error.code === "ECONNREFUSED") {
        this.#stalled(listener, "nothing listens on its port");
      }
      // Anything else (a reset: the guard refused the probe while draining, or for the
      // reserve) means the listener accepted it.
    });
  }

  #endProbe(listener: Listener): void {
    listener.probe?.socket.destroy();
    listener.probe = undefined;
    listener.lastAcceptMs = this.#init.clock.nowMs();
  }

  #isProbe(listener: Listener, socket: net.Socket): boolean {
    const probe = listener.probe;
    return probe !== undefined && probe.localPort !== undefined &&
      socket.remotePort === probe.localPort && socket.remoteAddress === probe.socket.localAddress;
  }

  #stalled(listener: Listener, why: string): void {
    const { label } = listener.init;
    count(this.#stalls, label);
    if (listener.accepting) {
      log.error("The {label} listener {address} stopped accepting ({why}): opening it again", {
        label,
        address: describe(listener.server),
        why,
      });
    }
    listener.accepting = false;
    if (listener.relistening) return;
    listener.relistening = true;
    listener.init.relisten().catch((error) => {
      log.error("Cannot open the {label} listener {address} again: {message}", {
        label,
        address: describe(listener.server),
        message: (error as Error).message,
      });
    }).finally(() => {
      listener.relistening = false;
      // Probe at the next tick: the listener proves itself by accepting.
      listener.lastAcceptMs = -Infinity;
    });
  }

  #markAccepting(listener: Listener): void {
    if (listener.accepting) return;
    listener.accepting = true;
    log.info("The {label} listener {address} accepts connections again", {
      label: listener.init.label,
      address: describe(listener.server),
    });
  }

  #maybeLog(nowMs: number): void {
    if (this.#unlogged.size === 0 || nowMs - this.#lastLogMs < REFUSAL_LOG_INTERVAL_MS) return;
    this.#lastLogMs = nowMs;
    const closed = Object.fromEntries(this.#unlogged);
    const total = [...this.#unlogged.values()].reduce((sum, n) => sum + n, 0);
    this.#unlogged.clear();
    log.warn("Closed {total} inbound sockets of the {group} listeners: {closed}", {
      total,
      group: this.#init.group,
      closed,
      fdsFree: this.#init.fds.free(),
    });
  }

  #addressKey(ip: string | undefined, port: number | undefined): string {
    return ip === undefined ? "" : `${canonicalIp(ip)} ${port}`;
  }

  #addressKeyOf(socket: net.Socket): string {
    return this.#addressKey(socket.remoteAddress, socket.remotePort);
  }
}

// One text per IP, as node:net and libp2p's multiaddrs spell it differently (IPv4-mapped
// IPv6 is IPv4; IPv6 compressed).
function canonicalIp(ip: string): string {
  const key = subnetKey(ip, 32, 128);
  const slash = key.lastIndexOf("/");
  return slash < 0 ? key : key.slice(0, slash);
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

// Reset rather than close: the refused peer learns at once, and no TIME_WAIT stays here.
function destroyNow(socket: net.Socket): void {
  const resettable = socket as net.Socket & { resetAndDestroy?: () => void };
  try {
    if (typeof resettable.resetAndDestroy === "function") resettable.resetAndDestroy();
    else socket.destroy();
  } catch {
    socket.destroy();
  }
}

function describe(server: net.Server): string {
  const address = server.address();
  if (address === null) return "(closed)";
  if (typeof address === "string") return address;
  return address.family === "IPv6"
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}
