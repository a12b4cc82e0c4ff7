/**
 * The running node: every component wired in one typed object, started and stopped in
 * order. Start: identity → libp2p host → relay → ops server. Stop (SIGTERM/SIGINT):
 * readiness turns false at once, new inbound connections and reservations are refused, open
 * circuits get up to `node.drain_timeout` to finish, then the relay, the host and the ops
 * server stop.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Counter, Gauge, type Registry } from "prom-client";
import type { ResolvedConfig } from "./config/mod.ts";
import { createHost, type Host, transportOf } from "./host/mod.ts";
import { registerHostMetrics } from "./host/metrics.ts";
import { type Identity, loadOrCreateIdentity } from "./identity/mod.ts";
import { createRegistry } from "./metrics/mod.ts";
import { createOpsApp, type OpsServer, type Readiness, serveOps } from "./ops/mod.ts";
import { type Relay, relay } from "./relay/mod.ts";
import { VERSION } from "./version.ts";

const log = getLogger(["hopd", "daemon"]);

/** How often a drain checks whether open work has finished, in milliseconds. */
const DRAIN_POLL_INTERVAL_MS = 100;

/** Every component of a running node. */
interface Components {
  readonly config: ResolvedConfig;
  readonly identity: Identity;
  readonly registry: Registry;
  readonly host: Host;
  readonly relay: Relay;
  ops?: OpsServer;
}

/** A running hopd node. */
export interface Daemon {
  readonly peerId: string;
  /** Where the ops server listens. */
  readonly opsAddress: { readonly hostname: string; readonly port: number };
  /** Full listen multiaddrs, with /p2p/<peer id>. */
  listenAddrs(): string[];
  readiness(): Readiness;
  status(): Record<string, unknown>;
  /**
   * Starts or ends a drain: while draining, /ready answers 503 and new inbound connections
   * are refused, but open ones are kept (the admin API and policies drive this).
   */
  setDraining(draining: boolean): void;
  /**
   * Reloads what can change without a restart (SIGHUP): the TLS certificate and key. A
   * failure is logged and counted; what was in use stays in use.
   *
   * @returns True when everything reloaded.
   */
  reload(): Promise<boolean>;
  /** Drains and stops every component; resolves when done. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Starts a node from a resolved config.
 *
 * @param config The resolved config.
 * @returns The running node.
 * @throws {import("./errors.ts").ConfigError} When the identity file is unusable.
 */
export async function startDaemon(config: ResolvedConfig): Promise<Daemon> {
  const startedAtMs = Date.now();
  const identity = await loadOrCreateIdentity(config.node.identityFile);
  if (identity.created) {
    log.info("Created identity {path} for peer {peerId}", {
      path: identity.path,
      peerId: identity.peerId.toString(),
    });
  }
  if (identity.looseMode) {
    log.warn("Identity {path} is readable by group or others: run chmod 600 {path}", {
      path: identity.path,
    });
  }

  const { maxReservations } = config.relay;
  if (maxReservations === 0 || maxReservations >= config.connections.maxConnections) {
    // The connection manager prunes past max_connections, and a pruned peer loses its
    // reservation: the reservation limit would never be the one that bites.
    log.warn(
      "relay.max_reservations ({maxReservations}) is not below connections.max_connections " +
        "({maxConnections}): reserved peers may be disconnected by pruning",
      { maxReservations, maxConnections: config.connections.maxConnections },
    );
  }

  let draining = false;
  let stopping = false;
  let listening = false;
  const registry = createRegistry({ version: VERSION });
  const host = await createHost({
    node: config.node,
    connections: config.connections,
    tls: config.tls,
    privateKey: identity.privateKey,
    refuseInbound: () => draining || stopping,
  });
  const components: Components = {
    config,
    identity,
    registry,
    host,
    relay: relay(config.relay)({ libp2p: host.libp2p, registry, privateKey: identity.privateKey }),
  };

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!listening) reasons.push("libp2p listeners are not up");
    if (stopping) reasons.push("node is shutting down");
    else if (draining) reasons.push("node is draining");
    return { ready: reasons.length === 0, reasons };
  };
  new Gauge({
    name: "hopd_ready",
    help: "1 when /ready answers 200, else 0.",
    registers: [registry],
    collect() {
      this.set(readiness().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: "hopd_draining",
    help: "1 while the node drains (refusing new work), else 0.",
    registers: [registry],
    collect() {
      this.set(draining || stopping ? 1 : 0);
    },
  });
  registerHostMetrics(host.libp2p, registry, host.certificate);
  const reloads = new Counter({
    name: "hopd_reloads_total",
    help: "SIGHUP reloads by result (error: the old settings stay in use).",
    labelNames: ["result"] as const,
    registers: [registry],
  });

  const listenAddrs = () => host.libp2p.getMultiaddrs().map(String);
  const status = () => {
    const byTransport: Record<string, number> = {};
    let inbound = 0;
    const connections = host.libp2p.getConnections();
    for (const connection of connections) {
      const transport = transportOf(connection);
      byTransport[transport] = (byTransport[transport] ?? 0) + 1;
      if (connection.direction === "inbound") inbound++;
    }
    return {
      peerId: identity.peerId.toString(),
      version: VERSION,
      listen: listenAddrs(),
      announce: [...config.node.announce],
      uptimeSeconds: (Date.now() - startedAtMs) / 1000,
      connections: {
        total: connections.length,
        inbound,
        outbound: connections.length - inbound,
        byTransport,
      },
      relay: components.relay.stats(),
      ...readiness(),
      draining: draining || stopping,
    };
  };

  await host.start();
  try {
    await components.relay.start();
    listening = host.libp2p.getMultiaddrs().length > 0;
    components.ops = serveOps(createOpsApp({ registry, readiness, status }), config.http);
  } catch (error) {
    await components.relay.stop();
    await host.stop();
    throw error;
  }
  const ops = components.ops;
  log.info("hopd {version} started as {peerId}", {
    version: VERSION,
    peerId: identity.peerId.toString(),
  });
  log.info("Listening on {addrs}", { addrs: listenAddrs() });
  log.info("Ops HTTP server listening on {url}", {
    url: `http://${ops.hostname.includes(":") ? `[${ops.hostname}]` : ops.hostname}:${ops.port}`,
    hostname: ops.hostname,
    port: ops.port,
  });

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = () =>
    shutdownPromise ??= (async () => {
      stopping = true;
      components.relay.setDraining(true);
      log.info("Shutting down: waiting up to {drainTimeoutMs} ms for {circuits} circuits", {
        drainTimeoutMs: config.node.drainTimeoutMs,
        circuits: components.relay.stats().circuits,
      });
      await waitForDrain(() => components.relay.stats().circuits, config.node.drainTimeoutMs);
      await components.relay.stop();
      await host.stop();
      listening = false;
      await ops.shutdown();
      log.info("Stopped");
    })();

  return {
    peerId: identity.peerId.toString(),
    opsAddress: { hostname: ops.hostname, port: ops.port },
    listenAddrs,
    readiness,
    status,
    setDraining(value: boolean) {
      if (value === draining) return;
      draining = value;
      components.relay.setDraining(value);
      log.info(
        value
          ? "Draining: refusing new connections and reservations"
          : "Drain ended: accepting connections",
      );
    },
    async reload() {
      try {
        const certificate = await host.reloadCertificate();
        reloads.inc({ result: "ok" });
        if (certificate !== undefined) {
          log.info("Reloaded TLS certificate {file}, valid until {notAfter}", {
            file: config.tls.certFile,
            notAfter: new Date(certificate.notAfterMs).toISOString(),
          });
        } else {
          log.info("Reload: nothing to reload (no TLS certificate configured)");
        }
        return true;
      } catch (error) {
        reloads.inc({ result: "error" });
        log.error("Reload failed, keeping the previous settings: {message}", {
          message: (error as Error).message,
        });
        return false;
      }
    },
    shutdown,
  };
}

async function waitForDrain(activeWork: () => number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (activeWork() > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_INTERVAL_MS));
  }
}
