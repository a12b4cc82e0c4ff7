/**
 * Every component of a running node, built by one function in dependency order into one
 * read-only object. Nothing starts while building; what starts, and in which order, is
 * `start_order.ts`.
 *
 * Build order ({@linkcode buildComponents}): the core ({@linkcode CoreComponents}: clock,
 * node state, settings, registry, ban list, limiter, socket guards) → the ACME manager (when
 * enabled; a stored certificate is read so the host serves it from the start) → libp2p host
 * (its gate asks the node state and the limiter) → relay (admission from the limiter) →
 * federation member (when enabled) → policy snapshot builder and policy engine (when
 * enabled; they watch everything above) → node metrics → ops server (it serves all of it).
 *
 * Three parts reach a part built after them, at run time only, through a closure over it
 * that runs once the node has started, never while building: the ACME manager hands new
 * certificates to the host; the relay asks the policy engine's plugins before it admits
 * (`reservationHook`, `circuitHook`) and tells the federation of refused reservations; the
 * federation reads the engine's verdict and its plugins' score.
 *
 * Adding a component: build it in {@linkcode buildComponents} (or, if it touches no
 * network, in the core) after everything it needs, add it to {@linkcode Components}, and,
 * if it has anything to start (a listener, a timer, a worker, a file), add it to the list in
 * `start_order.ts` after what it needs running.
 *
 * @module
 */

import { compactHeap, trimMemory } from "../memory/mod.ts";
import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import type { AcmeManager } from "../acme/mod.ts";
import { type AutonatService, autonatService } from "../autonat/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import { federationPubSub } from "../federation/mod.ts";
import { registerHostMetrics } from "../host/metrics.ts";
import { createHost, type Host, type LoadedCertificate } from "../host/mod.ts";
import type { Identity } from "../identity/mod.ts";
import { ipOf } from "../ip/mod.ts";
import { createRegistry } from "../metrics/mod.ts";
import { type Health, type PolicyEngine, policyEngine, snapshotLimits } from "../policy/mod.ts";
import {
  BanList,
  banWidthFrom,
  createLimiter,
  denoBanFs,
  type Limiter,
  limiterConfigFrom,
} from "../ratelimit/mod.ts";
import { type Relay, relay } from "../relay/mod.ts";
import { registerSocketMetrics, type SocketGuards, socketGuards } from "../sockets/mod.ts";
import { VERSION } from "../version.ts";
import { closeBanned, relayAdmission, withPluginHooks } from "./admission.ts";
import { type FederationMember, federationMember } from "./federation_member.ts";
import { readMemoryBudgetBytes } from "./memory_budget.ts";
import { type NodeMetrics, registerNodeMetrics } from "./node_metrics.ts";
import { HEALTHY, NodeState } from "./node_state.ts";
import { daemonOpsApp, OpsService } from "./ops_service.ts";
import { policyActuator } from "./policy_actuator.ts";
import { SnapshotBuilder } from "./policy_snapshot.ts";
import { Settings } from "./settings.ts";
import { nodeStatus } from "./status.ts";

const log = getLogger(["hopd", "daemon"]);

/** What {@linkcode buildComponents} needs besides the config. */
export interface BuildInit {
  /** The config the node starts with (restart-only sections are read from here). */
  readonly config: ResolvedConfig;
  readonly identity: Identity;
  /** The admin token read from `admin.token_file`, if set. */
  readonly adminToken: string | undefined;
  /** Called when a policy asks for a graceful restart. */
  requestRestart(reason: string): void;
  /** The one clock every component reads. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
  /**
   * Collects the start's garbage and gives freed native memory back (src/memory/), once the
   * node is at rest. @default compactHeap() then trimMemory()
   */
  readonly compactMemory?: () => void;
}

/** The parts every other part builds on: none of them touches the network. */
export interface CoreComponents {
  /** The config the node was built with. */
  readonly config: ResolvedConfig;
  readonly identity: Identity;
  readonly peerId: string;
  readonly startedAtMs: number;
  /** The one clock every component reads and schedules with. */
  readonly clock: Clock;
  /** Listening, drain and shutdown: the one state every part reads. */
  readonly state: NodeState;
  /** What a reload may change while running (limits go to the limiter). */
  readonly settings: Settings;
  readonly registry: MetricsRegistry;
  readonly bans: BanList;
  readonly limiter: Limiter;
  /** The socket guards in front of the libp2p listeners and the ops server. */
  readonly sockets: SocketGuards;
  /**
   * A full collection and a memory trim: once at rest, never on the path to the first
   * `/ready` (it holds the event loop for 50-400 ms). See `start_order.ts`.
   */
  compactMemory(): void;
}

/** Every component of a running node. */
export interface Components extends CoreComponents {
  /** Absent when `[acme] enabled = false`. */
  readonly acme: AcmeManager | undefined;
  readonly host: Host;
  readonly relay: Relay;
  /** Absent when `[autonat] enabled = false`. */
  readonly autonat: AutonatService | undefined;
  /** Absent when `[federation] enabled = false`. */
  readonly federation: FederationMember | undefined;
  /** The policy engine's snapshot of each tick; absent without the engine. */
  readonly snapshots: SnapshotBuilder | undefined;
  /** Absent when `[policy] enabled = false`. */
  readonly policy: PolicyEngine | undefined;
  readonly metrics: NodeMetrics;
  readonly ops: OpsService;
}

/**
 * Builds every component in dependency order. Starts nothing.
 *
 * @param init The config, identity and admin token.
 * @returns The components.
 * @throws {import("../errors.ts").ConfigError} When the TLS files are unusable.
 * @throws {RangeError} When a relay or federation setting is out of range.
 */
export async function buildComponents(init: BuildInit): Promise<Components> {
  const core = buildCore(init);
  const { config } = core;
  // The manager hands each new certificate to the host, built next (it orders only once
  // started); a stored certificate is read first so the host serves it from the start.
  // Imported only when enabled: acme-client and its HTTP stack cost an idle node 10-20 MB.
  const acme = !config.acme.enabled ? undefined : (await import("../acme/mod.ts")).acmeService({
    acme: config.acme,
    dataDir: config.node.dataDir,
  })({
    registry: core.registry,
    clock: core.clock,
    onCertificate: (certificate) => host.useCertificate(certificate),
  });
  const host: Host = await buildHost(core, await acme?.load());
  // The relay and the federation ask the policy engine, built after them, through these
  // (see the module doc): they run once the node has started.
  const health = (): Health => policy?.health() ?? HEALTHY;
  const plugins = config.policy.enabled ? () => policy?.plugins : undefined;
  const relayService = buildRelay(core, host, {
    plugins,
    refused: (peer, reason) => federation?.refused(peer, reason),
  });
  const autonat = !config.autonat.enabled ? undefined : autonatService(config.autonat)({
    libp2p: host.libp2p,
    registry: core.registry,
    clock: core.clock,
    maxTrackedPeers: config.limits.maxTrackedKeys,
  });
  const federation: FederationMember | undefined = !config.federation.enabled
    ? undefined
    : buildFederation(core, { host, relay: relayService }, { health, plugins });
  const snapshots: SnapshotBuilder | undefined = !config.policy.enabled
    ? undefined
    : buildSnapshots(core, { host, relay: relayService, federation });
  const policy: PolicyEngine | undefined = snapshots === undefined
    ? undefined
    : buildPolicy(core, { host, snapshots, federation, requestRestart: init.requestRestart });

  wireDrain(core.state, relayService, federation);
  wireBans(core.bans, host);
  const servesTls = config.tls.certFile !== undefined || acme !== undefined;
  registerHostMetrics(host.libp2p, core.registry, servesTls ? host.certificate : undefined);
  const readiness = () => core.state.readiness(health());
  const metrics = registerNodeMetrics(core.registry, readiness, () => core.state.isDraining());
  const parts = {
    ...core,
    acme,
    host,
    relay: relayService,
    autonat,
    federation,
    snapshots,
    policy,
    metrics,
  };
  const ops = new OpsService(
    daemonOpsApp({
      ...parts,
      readiness,
      status: () => nodeStatus({ ...parts, health }, core.clock.nowMs()),
      setDraining: (draining) => void core.state.requestDrain(draining),
    }),
    { ...config.http, guard: core.sockets.ops, clock: core.clock },
  );
  return { ...parts, ops };
}

function buildCore(init: BuildInit): CoreComponents {
  const { config } = init;
  const clock = init.clock ?? SYSTEM_CLOCK;
  const registry = createRegistry({ version: VERSION });
  const bans = new BanList({
    clock,
    fs: denoBanFs(),
    dataDir: config.node.dataDir,
    onWarning: (message) => log.warn("Bans: {message}", { message }),
  });
  const state = new NodeState();
  state.addReadinessCheck(() =>
    bans.saveError === undefined ? undefined : `bans cannot be saved: ${bans.saveError}`
  );
  const limiter = createLimiter(limiterConfigFrom(config), { clock, registry, bans });
  // Draining, bans and rate limits are checked when a socket is accepted, before any HTTP
  // upgrade or handshake is read from it.
  const sockets = socketGuards(config, {
    clock,
    admitLibp2p: (ip) => {
      if (state.isDraining()) return "draining";
      const verdict = limiter.checkConnection(ip);
      return verdict.ok ? undefined : verdict.reason;
    },
  });
  registerSocketMetrics(registry, [sockets.libp2p, sockets.ops], sockets.fds);
  // A listener that stalled, or descriptors short: libp2p clients are being refused.
  state.addReadinessCheck(() => {
    const reasons = sockets.libp2p.readinessReasons();
    return reasons.length === 0 ? undefined : reasons.join("; ");
  });
  return {
    config,
    identity: init.identity,
    peerId: init.identity.peerId,
    startedAtMs: clock.nowMs(),
    clock,
    state,
    settings: new Settings(config, init.adminToken),
    registry,
    bans,
    limiter,
    sockets,
    compactMemory: init.compactMemory ?? compactAndTrim,
  };
}

function compactAndTrim(): void {
  if (!compactHeap()) log.debug("This Deno gives no way to compact the heap");
  if (!trimMemory()) log.debug("DENO_USR2_MEMORY_TRIM is not set: no memory trim");
}

async function buildHost(
  { config, identity, peerId, state, limiter, sockets }: CoreComponents,
  acmeCertificate: LoadedCertificate | undefined,
): Promise<Host> {
  // Only for a federation: a node without one never loads gossipsub's code.
  const pubsub = config.federation.enabled
    ? federationPubSub(config.federation, peerId)
    : undefined;
  return await createHost({
    node: config.node,
    connections: config.connections,
    tls: config.tls,
    ...(acmeCertificate === undefined ? {} : { certificate: acmeCertificate }),
    ...(config.acme.enabled ? { announceDomains: config.acme.domains } : {}),
    privateKeyProtobuf: identity.privateKeyProtobuf,
    // The socket guard asked the limiter at accept; this catches a drain begun since.
    refuseInbound: () => state.isDraining(),
    socketGuard: sockets.libp2p,
    refuseInboundPeer: (peer, addr) => !limiter.checkPeer(peer, ipOf(addr)).ok,
    // Gossipsub learns a member's protocols from identify; clients are not identified.
    identifyInbound: (peer) =>
      config.federation.enabled && config.federation.members.includes(peer),
    ...(pubsub === undefined ? {} : { pubsub }),
  });
}

/** What the relay asks of parts built after it. */
interface RelayLinks {
  /** The policy engine's plugins; undefined when the engine is off (no hooks at all). */
  readonly plugins: (() => PolicyEngine["plugins"] | undefined) | undefined;
  /** Tells the federation of a refused reservation. */
  refused(peer: string, reason: string): void;
}

function buildRelay(core: CoreComponents, host: Host, links: RelayLinks): Relay {
  const { config, settings, limiter } = core;
  const admission = relayAdmission(limiter, () => settings.allowlistMaxCircuitsPerPeer);
  return relay(config.relay)({
    libp2p: host.libp2p,
    registry: core.registry,
    clock: core.clock,
    privateKeyProtobuf: core.identity.privateKeyProtobuf,
    // Without the engine there are no plugins to ask (and no await on the hot path).
    admission: links.plugins === undefined ? admission : withPluginHooks(admission, links.plugins),
    onReservationRefused: (peer, reason) => links.refused(peer, reason),
  });
}

/** What the federation asks of the policy engine, built after it. */
interface FederationLinks {
  health(): Health;
  /** The policy engine's plugins; undefined when the engine is off. */
  readonly plugins: (() => PolicyEngine["plugins"] | undefined) | undefined;
}

/** The libp2p side, built after the core. */
interface NetworkParts {
  readonly host: Host;
  readonly relay: Relay;
}

function buildFederation(
  core: CoreComponents,
  { host, relay }: NetworkParts,
  links: FederationLinks,
): FederationMember {
  const { plugins } = links;
  return federationMember(core.config, {
    host,
    relay,
    registry: core.registry,
    clock: core.clock,
    limiter: core.limiter,
    verdict: () => links.health().verdict,
    draining: () => core.state.isDraining(),
    ...(plugins === undefined
      ? {}
      : { scoreHook: (candidates, hints) => plugins()?.score(candidates, hints) }),
  });
}

function buildSnapshots(
  core: CoreComponents,
  { host, relay, federation }: NetworkParts & { readonly federation?: FederationMember },
): SnapshotBuilder {
  const { limiter, bans, state } = core;
  return new SnapshotBuilder({
    registry: core.registry,
    clock: core.clock,
    relay,
    peerId: core.peerId,
    startedAtMs: core.startedAtMs,
    draining: () => state.isDraining(),
    connections: () => host.libp2p.getConnections().length,
    throttleFactor: () => limiter.throttleFactor(),
    bans: () => bans.size(),
    // Counts and connections take effect at a restart, bandwidth caps at a reload.
    limits: async () =>
      snapshotLimits(
        { ...core.config, limits: core.settings.config.limits },
        await readMemoryBudgetBytes(),
      ),
    federation: () => federation?.federation.summary(),
  });
}

/** What the policy engine reads and drives besides the core. */
interface PolicyParts {
  readonly host: Host;
  readonly snapshots: SnapshotBuilder;
  readonly federation: FederationMember | undefined;
  requestRestart(reason: string): void;
}

function buildPolicy(core: CoreComponents, parts: PolicyParts): PolicyEngine {
  const { config, state } = core;
  const { federation } = parts;
  return policyEngine(config.policy)({
    registry: core.registry,
    clock: core.clock,
    peerId: core.peerId,
    dataDir: config.node.dataDir,
    snapshot: (tick) => parts.snapshots.build(tick),
    // The first evaluations leave garbage and freed native memory that the compaction 1 s
    // after the start (start_order.ts) did not see (bench/RESULTS.md, "memory at rest, fourth
    // session"): collect and trim once more.
    onFirstTick: () => core.compactMemory(),
    actuator: policyActuator({
      clock: core.clock,
      limiter: core.limiter,
      bans: core.bans,
      banWidth: () => banWidthFrom(core.settings.config),
      libp2p: parts.host.libp2p,
      draining: () => state.isDraining(),
      setDraining: (draining) => void state.requestDrain(draining),
      requestRestart: (reason) => parts.requestRestart(reason),
      ...(federation === undefined ? {} : { weight: federationWeight(federation) }),
    }),
  });
}

// A drain (or shutdown) reaches the relay, which refuses new reservations, and the
// federation, whose members must stop sending clients here now, not at the next report.
function wireDrain(state: NodeState, relay: Relay, federation: FederationMember | undefined) {
  state.onDrainChange((draining) => {
    relay.setDraining(draining);
    federation?.federation.announceNow();
  });
}

function wireBans(bans: BanList, host: Host): void {
  bans.onBan((ban) => {
    void closeBanned(host.libp2p, ban).then((closed) => {
      if (closed > 0) {
        log.info("Ban on {target} closed {closed} connections", { target: ban.value, closed });
      }
    });
  });
}

function federationWeight(member: FederationMember) {
  return {
    get: () => member.federation.weight(),
    set: (weight: number) => member.federation.setWeight(weight),
  };
}
