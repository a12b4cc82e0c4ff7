/**
 * The socket guards' Prometheus metrics: sockets by phase, refusals, timeouts, listener stalls
 * and the file descriptor budget, read from the guards at scrape time.
 *
 * @module
 */

import type { MetricsRegistry } from "../metrics/mod.ts";
import type { FdBudget } from "./fd_budget.ts";
import type { SocketGuard } from "./socket_guard.ts";

/**
 * Registers the socket guards' metrics, read from the guards at scrape time:
 *
 * - `hopd_sockets{listener,state}`: guarded sockets by phase (header, handshake, active,
 *   idle) and established libp2p connections;
 * - `hopd_socket_refusals_total{listener,reason}`: sockets closed at accept or shed to make
 *   room (fd_reserve, pending_ip, pending_subnet, pending_total, the limiter's reasons…);
 * - `hopd_socket_timeouts_total{listener,phase}`: sockets closed at a phase's deadline;
 * - `hopd_listener_stalls_total{listener}` and `hopd_listener_accepting{listener}`;
 * - `hopd_fds_free`: free file descriptors as last probed (a lower bound far from the limit),
 *   and `hopd_fds_reserve`.
 *
 * @param registry Where to register.
 * @param guards The guards to read.
 * @param fds The shared descriptor budget.
 */
export function registerSocketMetrics(
  registry: MetricsRegistry,
  guards: readonly SocketGuard[],
  fds: FdBudget,
): void {
  registry.gauge({
    name: "hopd_sockets",
    help: "Inbound sockets behind the socket guard, by listener and state.",
    labelNames: ["listener", "state"] as const,
    collect() {
      this.reset();
      for (const guard of guards) {
        for (const [listener, byState] of guard.stats().sockets) {
          for (const [state, value] of byState) this.set({ listener, state }, value);
        }
      }
    },
  });
  countersFrom(registry, guards, {
    name: "hopd_socket_refusals_total",
    help: "Inbound sockets closed at accept or shed to make room, by listener and reason.",
    label: "reason",
    read: (guard) => guard.stats().refusals,
  });
  countersFrom(registry, guards, {
    name: "hopd_socket_timeouts_total",
    help: "Inbound sockets closed because a phase outlived its deadline, by listener and phase.",
    label: "phase",
    read: (guard) => guard.stats().timeouts,
  });
  registry.counter({
    name: "hopd_listener_stalls_total",
    help: "Times a listener was found not accepting connections and opened again.",
    labelNames: ["listener"] as const,
    collect() {
      this.reset();
      for (const guard of guards) {
        for (const [listener, value] of guard.stats().stalls) this.inc({ listener }, value);
      }
    },
  });
  registry.gauge({
    name: "hopd_listener_accepting",
    help: "1 when every listener of this kind accepts connections, 0 when one does not.",
    labelNames: ["listener"] as const,
    collect() {
      this.reset();
      for (const guard of guards) {
        for (const [listener, ok] of guard.stats().accepting) this.set({ listener }, ok ? 1 : 0);
      }
    },
  });
  if (fds.reserve === 0) return; // the budget is off: it knows nothing about descriptors
  registry.gauge({
    name: "hopd_fds_free",
    help:
      "Free file descriptors as last probed (exact near the reserve, a lower bound far from it).",
    collect() {
      const free = fds.free();
      if (Number.isFinite(free)) this.set(free);
    },
  });
  registry.gauge({
    name: "hopd_fds_reserve",
    help: "File descriptors kept free for hopd itself (connections.fd_reserve).",
    collect() {
      this.set(fds.reserve);
    },
  });
}

// A counter whose value is kept by the guards as `${listener} ${other}` → count.
function countersFrom(
  registry: MetricsRegistry,
  guards: readonly SocketGuard[],
  spec: {
    name: string;
    help: string;
    label: string;
    read: (guard: SocketGuard) => ReadonlyMap<string, number>;
  },
): void {
  registry.counter({
    name: spec.name,
    help: spec.help,
    labelNames: ["listener", spec.label],
    collect() {
      this.reset();
      for (const guard of guards) {
        for (const [key, value] of spec.read(guard)) {
          const space = key.indexOf(" ");
          this.inc({ listener: key.slice(0, space), [spec.label]: key.slice(space + 1) }, value);
        }
      }
    },
  });
}
