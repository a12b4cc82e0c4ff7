/**
 * The running node: every component wired in one typed object, started and stopped in
 * order. Start: data dir, identity, bans → rate limiter → libp2p host → relay → federation
 * (when enabled) → ops server.
 * Stop (SIGTERM/SIGINT): readiness turns false at once, new inbound connections and
 * reservations are refused, open circuits get up to `node.drain_timeout` to finish, then
 * the relay, the host and the ops server stop, and the bans are flushed to disk.
 *
 * @module
 */

import { gossipsub } from "@libp2p/gossipsub";
import { getLogger } from "@logtape/logtape";
import type { Registry } from "prom-client";
import { parseDurationMs, type ResolvedConfig } from "./config/mod.ts";
import { adminControl } from "./daemon/admin_control.ts";
import { readAdminToken } from "./daemon/admin_token.ts";
import { policyActuator } from "./daemon/policy_actuator.ts";
import { SnapshotBuilder } from "./daemon/policy_snapshot.ts";
import { closeBanned, ipOf, limiterConfig, relayAdmission } from "./daemon/admission.ts";
import { type FederationMember, federationMember } from "./daemon/federation_member.ts";
import { gossipsubOptions } from "./federation/mod.ts";
import { type NodeMetrics, registerNodeMetrics } from "./daemon/node_metrics.ts";
import { createHost, type Host, transportOf } from "./host/mod.ts";
import { registerHostMetrics } from "./host/metrics.ts";
import { type Identity, loadOrCreateIdentity } from "./identity/mod.ts";
import { createRegistry } from "./metrics/mod.ts";
import {
  type AdminAuthConfig,
  createOpsApp,
  type OpsServer,
  type Readiness,
  serveOps,
} from "./ops/mod.ts";
import { federationRoutes } from "./ops/federation_routes.ts";
import { policyRoutes } from "./ops/policy_routes.ts";
import { BanList, createLimiter, denoBanFs, type Limiter } from "./ratelimit/mod.ts";
import { type Health, type PolicyEngine, policyEngine } from "./policy/mod.ts";
import { type Admission, type Relay, relay } from "./relay/mod.ts";
import { VERSION } from "./version.ts";

const log = getLogger(["hopd", "daemon"]);

/** How often a drain checks whether open circuits have finished, in milliseconds. */
const DRAIN_POLL_INTERVAL_MS = 100;
/** How often idle rate-limiter buckets are dropped, in milliseconds. */
const LIMITER_SWEEP_INTERVAL_MS = 10_000;

/** Every component of a running node. */
interface Components {
  readonly identity: Identity;
  readonly registry: Registry;
  readonly bans: BanList;
  readonly limiter: Limiter;
  readonly host: Host;
  readonly relay: Relay;
  readonly metrics: NodeMetrics;
  /** Absent when `[policy] enabled = false`. */
  readonly policy?: PolicyEngine;
  /** Absent when `[federation] enabled = false`. */
  readonly federation?: FederationMember;
}

/** How a node is started. */
export interface DaemonOptions {
  /** Loads the config again (SIGHUP); absent = reload re-reads certificates and tokens only. */
  readonly loadConfig?: () => Promise<ResolvedConfig>;
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
   * and reservations are refused, but open ones are kept (the admin API and policies drive
   * this).
   */
  setDraining(draining: boolean): void;
  /**
   * Reloads what can change without a restart (SIGHUP): limits and access lists from the
   * config, the admin token and the TLS certificate. A failure is logged and counted; what
   * was in use stays in use.
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
 * Starts a node from a resolved config.
 *
 * @param config The resolved config.
 * @param options How to reload.
 * @returns The running node.
 * @throws {import("./errors.ts").ConfigError} When the identity, admin token or TLS files
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
      peerId: identity.peerId.toString(),
    });
  }
  if (identity.looseMode) {
    log.warn("Identity {path} is readable by group or others: run chmod 600 {path}", {
      path: identity.path,
    });
  }
  const adminToken = await loadAdminToken(config);
  warnAboutPruning(config);
  const node = new Node(config, identity, adminToken, options);
  await node.start();
  return node;
}

async function loadAdminToken(config: ResolvedConfig): Promise<string | undefined> {
  if (config.admin.tokenFile === undefined) return undefined;
  const { token, looseMode } = await readAdminToken(config.admin.tokenFile);
  if (looseMode) {
    log.warn("Admin token {path} is readable by group or others: run chmod 600 {path}", {
      path: config.admin.tokenFile,
    });
  }
  return token;
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

class Node implements Daemon {
  readonly peerId: string;
  #config: ResolvedConfig;
  #adminToken: string | undefined;
  readonly #options: DaemonOptions;
  readonly #startedAtMs = Date.now();
  readonly #c: Components;
  #ops: OpsServer | undefined;
  #draining = false;
  #stopping = false;
  #listening = false;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #shutdown: Promise<void> | undefined;
  readonly #restart = Promise.withResolvers<string>();
  #snapshots: SnapshotBuilder | undefined;

  constructor(
    config: ResolvedConfig,
    identity: Identity,
    adminToken: string | undefined,
    options: DaemonOptions,
  ) {
    this.#config = config;
    this.#adminToken = adminToken;
    this.#options = options;
    this.peerId = identity.peerId.toString();
    const clock = { nowMs: () => Date.now() };
    const registry = createRegistry({ version: VERSION });
    const bans = new BanList({
      clock,
      fs: denoBanFs(),
      dataDir: config.node.dataDir,
      onWarning: (message) => log.warn("Bans: {message}", { message }),
    });
    const limiter = createLimiter(limiterConfig(config), { clock, registry, bans });
    this.#c = {
      identity,
      registry,
      bans,
      limiter,
      host: undefined!,
      relay: undefined!,
      metrics: registerNodeMetrics(registry, () => this.readiness(), () => this.#isDraining()),
    };
  }

  /** Builds the host and relay, starts everything in order, and serves ops HTTP. */
  async start(): Promise<void> {
    const { bans, limiter, registry, identity } = this.#c;
    const loaded = await bans.load();
    if (loaded.warning !== undefined) log.warn("Bans: {message}", { message: loaded.warning });
    if (loaded.loaded > 0) log.info("Loaded {count} bans", { count: loaded.loaded });

    const host = await createHost({
      node: this.#config.node,
      connections: this.#config.connections,
      tls: this.#config.tls,
      privateKey: identity.privateKey,
      refuseInbound: (addr) => {
        if (this.#isDraining()) return true;
        const ip = ipOf(addr);
        return ip !== undefined && !limiter.checkConnection(ip).ok;
      },
      refuseInboundPeer: (peer, addr) => !limiter.checkPeer(peer.toString(), ipOf(addr)).ok,
      // Gossipsub learns a member's protocols from identify; clients are not identified.
      identifyInbound: (peer) =>
        this.#config.federation.enabled &&
        this.#config.federation.members.includes(peer.toString()),
      ...(this.#config.federation.enabled
        ? { pubsub: gossipsub(gossipsubOptions(this.#config.federation, this.peerId)) }
        : {}),
    });
    const engine = this.#createPolicyEngine(host);
    const relayService = relay(this.#config.relay)({
      libp2p: host.libp2p,
      registry,
      privateKey: identity.privateKey,
      admission: withPluginHooks(
        relayAdmission(limiter, () => this.#config.access.allowlistMaxCircuitsPerPeer),
        engine,
      ),
      onReservationRefused: (peer, reason) => this.#c.federation?.refused(peer.toString(), reason),
    });
    const member = this.#config.federation.enabled
      ? federationMember(this.#config, {
        host,
        relay: relayService,
        registry,
        limiter,
        verdict: () => this.#health().verdict,
        draining: () => this.#isDraining(),
        ...(engine === undefined
          ? {}
          : { scoreHook: (candidates, hints) => engine.plugins.score(candidates, hints) }),
      })
      : undefined;
    Object.assign(this.#c, { host, relay: relayService, policy: engine, federation: member });
    registerHostMetrics(host.libp2p, registry, host.certificate);
    bans.onBan((ban) => {
      void closeBanned(host.libp2p, ban).then((closed) => {
        if (closed > 0) {
          log.info("Ban on {target} closed {closed} connections", { target: ban.value, closed });
        }
      });
    });

    await host.start();
    try {
      await relayService.start();
      await member?.start();
      this.#listening = host.libp2p.getMultiaddrs().length > 0;
      this.#ops = serveOps(this.#opsApp(), this.#config.http);
    } catch (error) {
      await member?.stop();
      await relayService.stop();
      await host.stop();
      throw error;
    }
    this.#sweeper = setInterval(() => limiter.sweep(), LIMITER_SWEEP_INTERVAL_MS);
    this.#logStarted();
    this.#startPolicyEngine();
  }

  get restartRequested(): Promise<string> {
    return this.#restart.promise;
  }

  get policy(): PolicyEngine | undefined {
    return this.#c.policy;
  }

  #createPolicyEngine(host: Host): PolicyEngine | undefined {
    const config = this.#config.policy;
    if (!config.enabled) return undefined;
    const { registry, limiter, bans } = this.#c;
    this.#snapshots = new SnapshotBuilder({
      registry,
      relay: { stats: () => this.#c.relay.stats(), circuits: () => this.#c.relay.circuits() },
      peerId: this.peerId,
      startedAtMs: this.#startedAtMs,
      draining: () => this.#isDraining(),
      connections: () => host.libp2p.getConnections().length,
      throttleFactor: () => limiter.throttleFactor(),
      bans: () => bans.size(),
      federation: () => this.#c.federation?.federation.summary(),
    });
    return policyEngine(config)({
      registry,
      peerId: this.peerId,
      dataDir: this.#config.node.dataDir,
      snapshot: (tick) => this.#snapshots!.build(tick),
      actuator: policyActuator({
        limiter,
        bans,
        libp2p: host.libp2p,
        draining: () => this.#draining,
        setDraining: (draining) => this.setDraining(draining),
        requestRestart: (reason) => {
          log.warn("Policy restart requested: {reason}", { reason });
          this.#restart.resolve(reason);
        },
        ...(this.#config.federation.enabled
          ? {
            weight: {
              get: () => this.#c.federation?.federation.weight() ?? this.#config.federation.weight,
              set: (weight: number) => this.#c.federation?.federation.setWeight(weight),
            },
          }
          : {}),
      }),
    });
  }

  #startPolicyEngine(): void {
    const engine = this.#c.policy;
    if (engine === undefined) return;
    this.#snapshots!.start();
    // In the background: /ready does not wait for policies to compile.
    engine.start().then(() => {
      const view = engine.policies().policies;
      log.info("Policy engine started: {policies} policies, {plugins} plugins", {
        policies: view.filter((p) => p.kind === "policy" && p.state === "active").length,
        plugins: view.filter((p) => p.kind === "plugin" && p.state === "active").length,
      });
    }, (error) => {
      log.error("Policy engine failed to start: {message}", { message: (error as Error).message });
    });
  }

  get opsAddress() {
    return { hostname: this.#ops!.hostname, port: this.#ops!.port };
  }

  listenAddrs(): string[] {
    return this.#c.host.libp2p.getMultiaddrs().map(String);
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.#listening) reasons.push("libp2p listeners are not up");
    if (this.#stopping) reasons.push("node is shutting down");
    else if (this.#draining) reasons.push("node is draining");
    const health = this.#health();
    if (health.verdict === "unhealthy") {
      reasons.push(...health.reasons.map((reason) => `unhealthy: ${reason}`));
    }
    return { ready: reasons.length === 0, reasons };
  }

  status(): Record<string, unknown> {
    const byTransport: Record<string, number> = {};
    let inbound = 0;
    const connections = this.#c.host.libp2p.getConnections();
    for (const connection of connections) {
      const transport = transportOf(connection);
      byTransport[transport] = (byTransport[transport] ?? 0) + 1;
      if (connection.direction === "inbound") inbound++;
    }
    return {
      peerId: this.peerId,
      version: VERSION,
      listen: this.listenAddrs(),
      announce: [...this.#config.node.announce],
      uptimeSeconds: (Date.now() - this.#startedAtMs) / 1000,
      connections: {
        total: connections.length,
        inbound,
        outbound: connections.length - inbound,
        byTransport,
      },
      relay: this.#c.relay.stats(),
      limiter: {
        throttleFactor: this.#c.limiter.throttleFactor(),
        bans: this.#c.bans.size(),
      },
      ...this.readiness(),
      draining: this.#isDraining(),
      health: this.#health(),
      ...(this.#c.federation === undefined
        ? {}
        : { federation: { members: this.#c.federation.federation.summary().members } }),
    };
  }

  #health(): Health {
    return this.#c.policy?.health() ?? { verdict: "healthy", reasons: [] };
  }

  setDraining(draining: boolean): void {
    if (draining === this.#draining) return;
    this.#draining = draining;
    this.#c.relay.setDraining(draining || this.#stopping);
    // Members must stop sending clients here now, not at the next report.
    this.#c.federation?.federation.announceNow();
    log.info(
      draining
        ? "Draining: refusing new connections and reservations"
        : "Drain ended: accepting connections",
    );
  }

  async reload(): Promise<boolean> {
    const parts: string[] = [];
    try {
      if (this.#options.loadConfig !== undefined) {
        const next = await this.#options.loadConfig();
        this.#c.limiter.reload(limiterConfig(next));
        this.#adminToken = await loadAdminToken(next);
        this.#warnAboutRestartOnlyChanges(next);
        this.#config = next;
        parts.push("limits", "access lists", "admin token");
      }
      const certificate = await this.#c.host.reloadCertificate();
      if (certificate !== undefined) {
        parts.push(
          `TLS certificate (valid until ${new Date(certificate.notAfterMs).toISOString()})`,
        );
      }
      this.#c.metrics.reloads.inc({ result: "ok" });
      log.info("Reloaded: {parts}", {
        parts: parts.length > 0 ? parts.join(", ") : "nothing to reload",
      });
      return true;
    } catch (error) {
      this.#c.metrics.reloads.inc({ result: "error" });
      log.error("Reload failed, keeping the previous settings: {message}", {
        message: (error as Error).message,
      });
      return false;
    }
  }

  shutdown(): Promise<void> {
    return this.#shutdown ??= this.#stop();
  }

  async #stop(): Promise<void> {
    const { relay, host, bans } = this.#c;
    this.#stopping = true;
    relay.setDraining(true);
    this.#c.federation?.federation.announceNow();
    log.info("Shutting down: waiting up to {drainTimeoutMs} ms for {circuits} circuits", {
      drainTimeoutMs: this.#config.node.drainTimeoutMs,
      circuits: relay.stats().circuits,
    });
    const deadline = Date.now() + this.#config.node.drainTimeoutMs;
    while (relay.stats().circuits > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_INTERVAL_MS));
    }
    clearInterval(this.#sweeper);
    this.#snapshots?.stop();
    await this.#c.policy?.stop();
    // Its last report ("leaving") needs the host: the federation stops first.
    await this.#c.federation?.stop();
    await relay.stop();
    await host.stop();
    this.#listening = false;
    await this.#ops?.shutdown();
    await bans.flush();
    log.info("Stopped");
  }

  #isDraining(): boolean {
    return this.#draining || this.#stopping;
  }

  #opsApp() {
    const { registry, limiter, bans, host, relay } = this.#c;
    const auth = (): AdminAuthConfig => ({
      token: this.#adminToken,
      allowRemote: this.#config.admin.allowRemote,
      maxBodyBytes: this.#config.admin.maxBodyBytes,
    });
    return createOpsApp({
      registry,
      readiness: () => this.readiness(),
      status: () => this.status(),
      httpAdmission: (ip) => (ip === "" ? { ok: true } : limiter.checkHttp(ip)),
      admin: {
        control: adminControl({
          libp2p: host.libp2p,
          relay,
          bans,
          setDraining: (draining) => this.setDraining(draining),
        }),
        auth,
        parseDurationMs,
      },
      routeGroups: [
        ...(this.#c.policy === undefined ? [] : [policyRoutes(this.#c.policy)]),
        federationRoutes(this.#federationRoutes()),
      ],
    });
  }

  #federationRoutes() {
    const member = this.#c.federation?.federation;
    if (member === undefined) {
      return {
        view: () => ({
          enabled: false,
          self: this.peerId,
          topic: this.#config.federation.topic,
          members: [],
        }),
      };
    }
    return { view: () => member.view(), select: member.select.bind(member) };
  }

  #warnAboutRestartOnlyChanges(next: ResolvedConfig): void {
    const restartOnly = [
      "node",
      "connections",
      "http",
      "relay",
      "tls",
      "federation",
      "policy",
    ] as const;
    const changed = restartOnly.filter((section) =>
      JSON.stringify(next[section]) !== JSON.stringify(this.#config[section])
    );
    if (changed.length > 0) {
      log.warn("Config sections {sections} changed: they take effect at the next restart", {
        sections: changed.join(", "),
      });
    }
  }

  #logStarted(): void {
    const ops = this.#ops!;
    log.info("hopd {version} started as {peerId}", {
      version: VERSION,
      peerId: this.peerId,
      pid: Deno.pid,
    });
    log.info("Listening on {addrs}", { addrs: this.listenAddrs() });
    log.info("Ops HTTP server listening on {url}", {
      url: `http://${ops.hostname.includes(":") ? `[${ops.hostname}]` : ops.hostname}:${ops.port}`,
      hostname: ops.hostname,
      port: ops.port,
    });
  }
}

// Adds the plugins' admission hooks to the limiter's admission (plugins are asked only after
// the limiter admitted; no plugin with the hook = no await on the hot path).
function withPluginHooks<T extends object>(admission: T, engine: PolicyEngine | undefined): T {
  if (engine === undefined) return admission;
  const answer = (
    pending: Promise<{ accept: boolean; reason?: string }> | undefined,
    status: "RESERVATION_REFUSED" | "PERMISSION_DENIED",
  ): Promise<Admission> | undefined =>
    pending?.then((a) => a.accept ? { ok: true } : { ok: false, status, reason: "plugin" });
  return {
    ...admission,
    reservationHook: (peer: { toString(): string }, ip: string | undefined) =>
      answer(
        engine.plugins.reservation({ peer: peer.toString(), ...(ip === undefined ? {} : { ip }) }),
        "RESERVATION_REFUSED",
      ),
    circuitHook: (
      source: { toString(): string },
      ip: string | undefined,
      target: { toString(): string },
    ) =>
      answer(
        engine.plugins.circuit({
          source: source.toString(),
          ...(ip === undefined ? {} : { ip }),
          target: target.toString(),
        }),
        "PERMISSION_DENIED",
      ),
  };
}
