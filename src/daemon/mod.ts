/**
 * The daemon: every component of a hopd node, built in dependency order into one read-only
 * object, started in order, drained and stopped in reverse. The CLI's `hopd run` calls
 * {@linkcode startDaemon} and holds the {@linkcode Daemon} it returns until a signal.
 *
 * Read it in this order:
 * - `components.ts`: `buildComponents` builds every part (node state, registry, bans,
 *   limiter, socket guards, ACME, host, relay, federation, policy engine, metrics, ops
 *   server) in dependency order. A new component is built there (its module doc says how).
 * - `start_order.ts`: the one ordered list of what starts; `startables.ts` starts it
 *   forwards, stops it in reverse and rolls it back when a start fails.
 * - `node.ts`: the running node: readiness, status, drain, reload (`reload.ts`: all or
 *   nothing) and shutdown.
 * - `node_state.ts`: the one listening/draining/stopping state every part reads.
 * - The glue between components: `admission.ts` (limiter and plugins → relay and gate,
 *   bans → connections), `admin_control.ts` and `ops_service.ts` (the ops server),
 *   `policy_snapshot.ts` and `policy_actuator.ts` (policy engine ↔ node),
 *   `federation_member.ts`, `load_sampler.ts` and `refusal_logger.ts` (the federation),
 *   `cpu_meter.ts`, `settings.ts` (what a reload changes), `status.ts`, `node_metrics.ts`,
 *   `admin_token.ts`. `defaults_test.ts` checks what each component runs with out of the box.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "../config/mod.ts";
 * import { startDaemon } from "./mod.ts";
 * const dataDir = await Deno.makeTempDir();
 * const config = await loadConfig({
 *   overrides: {
 *     node: { data_dir: dataDir, listen: ["/ip4/127.0.0.1/tcp/0"] },
 *     http: { listen: "127.0.0.1:0" },
 *     policy: { enabled: false },
 *   },
 * });
 * const daemon = await startDaemon(config);
 * assert.deepEqual(daemon.readiness(), { ready: true, reasons: [] });
 * await daemon.shutdown();
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ResolvedConfig } from "../config/mod.ts";
import { loadOrCreateIdentity } from "../identity/mod.ts";
import type { Readiness } from "../ops/mod.ts";
import type { PolicyEngine } from "../policy/mod.ts";
import { readAdminTokenFor } from "./admin_token.ts";
import { buildComponents } from "./components.ts";
import { startOrder } from "./start_order.ts";
import { Node } from "./node.ts";
import { Startables } from "./startables.ts";

const log = getLogger(["hopd", "daemon"]);

/** How a node is started. */
export interface DaemonOptions {
  /** Loads the config again (SIGHUP); absent = reload re-reads certificates and tokens only. */
  readonly loadConfig?: () => Promise<ResolvedConfig>;
}

/** A running hopd node. */
export interface Daemon {
  /** The node's peer ID. */
  readonly peerId: string;
  /** Where the ops server listens. */
  readonly opsAddress: { readonly hostname: string; readonly port: number };
  /** Full listen multiaddrs, with /p2p/<peer id>. */
  listenAddrs(): string[];
  /** Whether the node should receive traffic, and if not, why (/ready). */
  readiness(): Readiness;
  /** The body of /v1/status: identity, addresses, connections, relay and limiter counts. */
  status(): Record<string, unknown>;
  /**
   * Starts or ends a drain: while draining, /ready answers 503 and new inbound connections
   * and reservations are refused, but open ones are kept (the admin API and policies drive
   * this).
   */
  setDraining(draining: boolean): void;
  /**
   * Reloads what can change without a restart (SIGHUP): limits and access lists from the
   * config, the admin token and the TLS certificate, all or nothing: every part is read and
   * checked before any is applied, so a failure (logged and counted) leaves every setting
   * as it was.
   *
   * @returns True when everything reloaded.
   */
  reload(): Promise<boolean>;
  /** Drains and stops every component; resolves when done. Idempotent. */
  shutdown(): Promise<void>;
  /**
   * Resolves with the reason when a policy asks for a graceful restart (the CLI then shuts
   * down and exits with EXIT_POLICY_RESTART so systemd starts it again).
   */
  readonly restartRequested: Promise<string>;
  /** The policy engine, when enabled. */
  readonly policy: PolicyEngine | undefined;
}

/**
 * Starts a node from a resolved config: data dir, identity and admin token, then every
 * component built and started in order.
 *
 * @param config The resolved config.
 * @param options How to reload.
 * @returns The running node.
 * @throws {import("../errors.ts").ConfigError} When the identity, admin token or TLS files
 * are unusable.
 */
export async function startDaemon(
  config: ResolvedConfig,
  options: DaemonOptions = {},
): Promise<Daemon> {
  await Deno.mkdir(config.node.dataDir, { recursive: true, mode: 0o700 });
  const identity = await loadOrCreateIdentity(config.node.identityFile);
  if (identity.created) {
    log.info("Created identity {path} for peer {peerId}", {
      path: identity.path,
      peerId: identity.peerId,
    });
  }
  if (identity.looseMode) {
    log.warn("Identity {path} is readable by group or others: run chmod 600 {path}", {
      path: identity.path,
    });
  }
  const adminToken = await readAdminTokenFor(config);
  warnAboutPruning(config);
  const restart = Promise.withResolvers<string>();
  const components = await buildComponents({
    config,
    identity,
    adminToken,
    requestRestart: (reason) => {
      log.warn("Policy restart requested: {reason}", { reason });
      restart.resolve(reason);
    },
  });
  const node = new Node({
    components,
    startables: new Startables(startOrder(components)),
    ...(options.loadConfig === undefined ? {} : { loadConfig: options.loadConfig }),
    restartRequested: restart.promise,
  });
  // The start's garbage is collected once the node is at rest, not here: a full collection
  // holds the event loop, and with it the first /ready (start_order.ts, "memory at rest").
  await node.start();
  return node;
}

function warnAboutPruning(config: ResolvedConfig): void {
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
}
