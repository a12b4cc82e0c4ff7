/**
 * The resolved config: the validated file form turned into what the code reads (camelCase,
 * units applied: durations in milliseconds, sizes in bytes; derived paths filled in; frozen).
 *
 * @module
 */

import { join } from "node:path";
import { IDENTITY_FILE_NAME } from "./constants.ts";
import { parseHookEntry } from "./command_line.ts";
import { type ConfigFile, isSecureWebSocket } from "./schema.ts";
import { parseDurationMs, parseRatePerSecond, parseSizeBytes } from "./units.ts";

/** `[node]`, resolved. */
export interface ResolvedNodeConfig {
  readonly dataDir: string;
  readonly identityFile: string;
  readonly listen: readonly string[];
  readonly announce: readonly string[];
  readonly drainTimeoutMs: number;
}

/** `[connections]`, resolved. `inboundPerIpPerSecond` 0 means unlimited. */
export interface ResolvedConnectionsConfig {
  readonly maxConnections: number;
  readonly maxPendingInbound: number;
  readonly inboundPerIpPerSecond: number;
  readonly dialTimeoutMs: number;
  readonly inboundUpgradeTimeoutMs: number;
  readonly peerAddressTtlMs: number;
  readonly peerTtlMs: number;
  readonly maxPendingPerIp: number;
  readonly maxPendingPerSubnet: number;
  readonly headerTimeoutMs: number;
  /** 0 = never. */
  readonly idleTimeoutMs: number;
  /** 0 = the file descriptor budget is off. */
  readonly fdReserve: number;
}

/** A HOST:PORT to listen on, resolved. */
export interface ResolvedHostPort {
  readonly hostname: string;
  readonly port: number;
}

/** `[http]`, resolved. */
export interface ResolvedHttpConfig extends ResolvedHostPort {
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly headerTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/** `[log]`, resolved. */
export interface ResolvedLogConfig {
  readonly level: ConfigFile["log"]["level"];
  readonly format: ConfigFile["log"]["format"];
}

/** A token rate: refill per second and bucket size; rate 0 = unlimited. */
export interface ResolvedRate {
  readonly ratePerSecond: number;
  readonly burst: number;
}

/** `[limits]`, resolved: events per second and bytes per second; 0 = unlimited. */
export interface ResolvedLimitsConfig {
  readonly connectionsPerIp: ResolvedRate;
  readonly connectionsPerSubnet: ResolvedRate;
  readonly connectionsGlobal: ResolvedRate;
  readonly reservationsPerPeer: ResolvedRate;
  readonly reservationsPerIp: ResolvedRate;
  readonly reservationsGlobal: ResolvedRate;
  readonly circuitsPerPeer: ResolvedRate;
  readonly circuitsGlobal: ResolvedRate;
  readonly httpRequestsPerIp: ResolvedRate;
  readonly bandwidthPerCircuitBytesPerSecond: number;
  readonly bandwidthPerPeerBytesPerSecond: number;
  readonly bandwidthGlobalBytesPerSecond: number;
  readonly bandwidthBurstMs: number;
  readonly maxTrackedKeys: number;
  /** Widest CIDR bans (shortest prefixes) allowed without force, per family. */
  readonly banPrefixMinV4: number;
  readonly banPrefixMinV6: number;
}

/** `[access]`, resolved. */
export interface ResolvedAccessConfig {
  readonly denyPeers: readonly string[];
  readonly denyCidrs: readonly string[];
  readonly allowPeers: readonly string[];
  readonly allowCidrs: readonly string[];
  readonly allowlistMaxCircuitsPerPeer: number;
}

/** `[admin]`, resolved. */
export interface ResolvedAdminConfig {
  /** Path of the token file, or undefined when the admin API takes no token. */
  readonly tokenFile?: string;
  readonly allowRemote: boolean;
  readonly maxBodyBytes: number;
}

/** `[tls]`, resolved: file paths, or undefined when TLS is off. */
export interface ResolvedTlsConfig {
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** `[acme]`, resolved: milliseconds, HOST:PORT split, unset strings as undefined. */
export interface ResolvedAcmeConfig {
  readonly enabled: boolean;
  readonly directoryUrl: string;
  readonly domains: readonly string[];
  readonly email?: string;
  readonly challenge: ConfigFile["acme"]["challenge"];
  /** Where http-01 challenges are answered. */
  readonly httpListen: ResolvedHostPort;
  readonly renewBeforeMs: number;
  readonly directoryCaFile?: string;
  /** External account binding, when the CA needs one. */
  readonly eab?: { readonly kid: string; readonly hmacKeyFile: string };
}

/** `[relay]`, resolved: milliseconds and bytes, 0 = unlimited. */
export interface ResolvedRelaySectionConfig {
  /** Reservation lifetime. */
  readonly reservationTtlMs: number;
  /** Most reservations held at once. */
  readonly maxReservations: number;
  /** Most reservations from one IP. */
  readonly maxReservationsPerIp: number;
  /** Most reservations from one subnet. */
  readonly maxReservationsPerSubnet: number;
  /** IPv4 subnet prefix length. */
  readonly subnetPrefixV4: number;
  /** IPv6 subnet prefix length. */
  readonly subnetPrefixV6: number;
  /** Most circuits at once. */
  readonly maxCircuits: number;
  /** Most circuits per source peer. */
  readonly maxCircuitsPerPeer: number;
  /** Circuit life, advertised in whole seconds (rounded up). */
  readonly circuitDurationMs: number;
  /** Bytes per direction of a circuit. */
  readonly circuitDataBytes: number;
  /** Time to complete a hop or stop exchange. */
  readonly handshakeTimeoutMs: number;
  /** Largest hop/stop message. */
  readonly maxMessageBytes: number;
  /** Pipeline the STOP stream's negotiation with its CONNECT. */
  readonly stopPipelining: boolean;
}

/** `[autonat]`, resolved: rates per second, milliseconds. */
export interface ResolvedAutonatConfig {
  readonly enabled: boolean;
  readonly dialsPerPeer: ResolvedRate;
  readonly dialsGlobal: ResolvedRate;
  readonly dialTimeoutMs: number;
  readonly maxAddrs: number;
}

/** The whole config as the code uses it: complete, validated once, read-only. */
export interface ResolvedConfig {
  readonly node: ResolvedNodeConfig;
  readonly connections: ResolvedConnectionsConfig;
  readonly http: ResolvedHttpConfig;
  readonly log: ResolvedLogConfig;
  readonly limits: ResolvedLimitsConfig;
  readonly access: ResolvedAccessConfig;
  readonly admin: ResolvedAdminConfig;
  readonly tls: ResolvedTlsConfig;
  readonly acme: ResolvedAcmeConfig;
  readonly relay: ResolvedRelaySectionConfig;
  readonly autonat: ResolvedAutonatConfig;
  readonly policy: ResolvedPolicyConfig;
  readonly federation: ResolvedFederationConfig;
}

/** `[federation]`, resolved: milliseconds, bytes per second, parsed coordinates and map. */
export interface ResolvedFederationConfig {
  readonly enabled: boolean;
  readonly members: readonly string[];
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly intervalMs: number;
  /** Silence after which a member is suspect (suspect_after × interval). */
  readonly suspectAfterMs: number;
  /** Silence after which a member is dead (dead_after × interval). */
  readonly deadAfterMs: number;
  readonly region?: string;
  readonly lat?: number;
  readonly lon?: number;
  readonly weight: number;
  /** 0 = not scored. */
  readonly bandwidthBytesPerSecond: number;
  readonly algorithm: ConfigFile["federation"]["algorithm"];
  readonly cidrRegions: readonly { readonly cidr: string; readonly region: string }[];
}

/** `[policy]`, resolved. */
export interface ResolvedPolicyConfig {
  readonly enabled: boolean;
  readonly dir: string;
  readonly pluginsDir: string;
  readonly tickMs: number;
  readonly mode: "enforce" | "warn" | "dryrun";
  /** Per-policy modes by policy name. */
  readonly modes: Readonly<Record<string, "enforce" | "warn" | "dryrun">>;
  readonly failClosed: boolean;
  readonly deadlineMs: number;
  readonly killGraceMs: number;
  readonly memoryLimitBytes: number;
  readonly stackLimitBytes: number;
  readonly historySize: number;
  readonly stateMaxBytes: number;
  readonly hysteresisFor: number;
  readonly hysteresisOf: number;
  readonly cooldownMs: number;
  readonly restartBudget: number;
  readonly restartWindowMs: number;
  readonly maxBanFraction: number;
  /** Declared hooks: name → argv (no shell). */
  readonly hooks: Readonly<Record<string, readonly string[]>>;
  readonly hookTimeoutMs: number;
  readonly decisionLogBytes: number;
  readonly decisionLogFiles: number;
  readonly alertWebhook?: string;
  readonly alertmanagerUrl?: string;
  readonly alertQueueSize: number;
  readonly alertRetries: number;
  readonly pluginBudgetMs: number;
  readonly pluginFailClosed: boolean;
}

// The schema has already checked every unit string, so these cannot be undefined.
const ms = (text: string): number => parseDurationMs(text)!;
const bytes = (text: string): number => parseSizeBytes(text)!;
const rate = (text: string, burst: number): ResolvedRate => ({
  ratePerSecond: parseRatePerSecond(text)!,
  burst,
});

function splitHostPort(text: string): ResolvedHostPort {
  const at = text.lastIndexOf(":");
  const host = text.slice(0, at);
  return {
    hostname: host.startsWith("[") ? host.slice(1, -1) : host,
    port: Number(text.slice(at + 1)),
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Turns the validated file form into the resolved form: camelCase, units applied,
 * derived paths filled in, frozen.
 *
 * @param file The validated config (defaults applied).
 * @returns The resolved config.
 */
export function resolveConfig(file: ConfigFile): ResolvedConfig {
  const { node, connections, http, log, limits, access, admin, tls, relay, policy, federation } =
    file;
  const { acme, autonat } = file;
  return deepFreeze({
    node: {
      dataDir: node.data_dir,
      identityFile: node.identity_file || join(node.data_dir, IDENTITY_FILE_NAME),
      // [acme] serves its certificate on a /tls/ws listener: its own when node.listen has none.
      listen: acme.enabled && !node.listen.some(isSecureWebSocket)
        ? [...node.listen, acme.wss_listen]
        : node.listen,
      announce: node.announce,
      drainTimeoutMs: ms(node.drain_timeout),
    },
    connections: {
      maxConnections: connections.max_connections,
      maxPendingInbound: connections.max_pending_inbound,
      inboundPerIpPerSecond: connections.inbound_per_ip_per_second,
      dialTimeoutMs: ms(connections.dial_timeout),
      inboundUpgradeTimeoutMs: ms(connections.inbound_upgrade_timeout),
      peerAddressTtlMs: ms(connections.peer_address_ttl),
      peerTtlMs: ms(connections.peer_ttl),
      maxPendingPerIp: connections.max_pending_per_ip,
      maxPendingPerSubnet: connections.max_pending_per_subnet,
      headerTimeoutMs: ms(connections.header_timeout),
      idleTimeoutMs: ms(connections.idle_timeout),
      fdReserve: connections.fd_reserve,
    },
    http: {
      ...splitHostPort(http.listen),
      maxConnections: http.max_connections,
      maxConnectionsPerIp: http.max_connections_per_ip,
      headerTimeoutMs: ms(http.header_timeout),
      requestTimeoutMs: ms(http.request_timeout),
      idleTimeoutMs: ms(http.idle_timeout),
    },
    log: { level: log.level, format: log.format },
    limits: {
      connectionsPerIp: rate(limits.connections_per_ip, limits.connections_per_ip_burst),
      connectionsPerSubnet: rate(
        limits.connections_per_subnet,
        limits.connections_per_subnet_burst,
      ),
      connectionsGlobal: rate(limits.connections_global, limits.connections_global_burst),
      reservationsPerPeer: rate(limits.reservations_per_peer, limits.reservations_per_peer_burst),
      reservationsPerIp: rate(limits.reservations_per_ip, limits.reservations_per_ip_burst),
      reservationsGlobal: rate(limits.reservations_global, limits.reservations_global_burst),
      circuitsPerPeer: rate(limits.circuits_per_peer, limits.circuits_per_peer_burst),
      circuitsGlobal: rate(limits.circuits_global, limits.circuits_global_burst),
      httpRequestsPerIp: rate(limits.http_requests_per_ip, limits.http_requests_per_ip_burst),
      bandwidthPerCircuitBytesPerSecond: bytes(limits.bandwidth_per_circuit),
      bandwidthPerPeerBytesPerSecond: bytes(limits.bandwidth_per_peer),
      bandwidthGlobalBytesPerSecond: bytes(limits.bandwidth_global),
      bandwidthBurstMs: ms(limits.bandwidth_burst),
      maxTrackedKeys: limits.max_tracked_keys,
      banPrefixMinV4: limits.ban_prefix_min_v4,
      banPrefixMinV6: limits.ban_prefix_min_v6,
    },
    access: {
      denyPeers: access.deny_peers,
      denyCidrs: access.deny_cidrs,
      allowPeers: access.allow_peers,
      allowCidrs: access.allow_cidrs,
      allowlistMaxCircuitsPerPeer: access.allowlist_max_circuits_per_peer,
    },
    admin: {
      ...(admin.token_file === "" ? {} : { tokenFile: admin.token_file }),
      allowRemote: admin.allow_remote,
      maxBodyBytes: bytes(admin.max_body_size),
    },
    tls: tls.cert_file === "" ? {} : { certFile: tls.cert_file, keyFile: tls.key_file },
    acme: resolveAcme(acme),
    relay: {
      reservationTtlMs: ms(relay.reservation_ttl),
      maxReservations: relay.max_reservations,
      maxReservationsPerIp: relay.max_reservations_per_ip,
      maxReservationsPerSubnet: relay.max_reservations_per_subnet,
      subnetPrefixV4: relay.subnet_prefix_v4,
      subnetPrefixV6: relay.subnet_prefix_v6,
      maxCircuits: relay.max_circuits,
      maxCircuitsPerPeer: relay.max_circuits_per_peer,
      circuitDurationMs: ms(relay.circuit_duration),
      circuitDataBytes: bytes(relay.circuit_data),
      handshakeTimeoutMs: ms(relay.handshake_timeout),
      maxMessageBytes: bytes(relay.max_message_size),
      stopPipelining: relay.stop_pipelining,
    },
    autonat: {
      enabled: autonat.enabled,
      dialsPerPeer: rate(autonat.dials_per_peer, autonat.dials_per_peer_burst),
      dialsGlobal: rate(autonat.dials_global, autonat.dials_global_burst),
      dialTimeoutMs: ms(autonat.dial_timeout),
      maxAddrs: autonat.max_addrs,
    },
    policy: resolvePolicy(policy),
    federation: resolveFederation(federation),
  });
}

function resolveAcme(acme: ConfigFile["acme"]): ResolvedAcmeConfig {
  return {
    enabled: acme.enabled,
    directoryUrl: acme.directory,
    domains: acme.domains.map((domain) => domain.toLowerCase()),
    ...(acme.email === "" ? {} : { email: acme.email }),
    challenge: acme.challenge,
    httpListen: splitHostPort(acme.http_listen),
    renewBeforeMs: ms(acme.renew_before),
    ...(acme.directory_ca_file === "" ? {} : { directoryCaFile: acme.directory_ca_file }),
    ...(acme.eab_kid === ""
      ? {}
      : { eab: { kid: acme.eab_kid, hmacKeyFile: acme.eab_hmac_key_file } }),
  };
}

function resolveFederation(federation: ConfigFile["federation"]): ResolvedFederationConfig {
  const intervalMs = ms(federation.interval);
  const [lat, lon] = federation.coordinates === ""
    ? []
    : federation.coordinates.split(",").map((part) => Number(part.trim()));
  return {
    enabled: federation.enabled,
    members: federation.members,
    bootstrap: federation.bootstrap,
    topic: federation.topic,
    intervalMs,
    suspectAfterMs: Math.round(federation.suspect_after * intervalMs),
    deadAfterMs: Math.round(federation.dead_after * intervalMs),
    ...(federation.region === "" ? {} : { region: federation.region }),
    ...(lat === undefined || lon === undefined ? {} : { lat, lon }),
    weight: federation.weight,
    bandwidthBytesPerSecond: bytes(federation.capacity_bandwidth),
    algorithm: federation.algorithm,
    cidrRegions: federation.cidr_regions.map((entry) => {
      const at = entry.lastIndexOf("=");
      return { cidr: entry.slice(0, at), region: entry.slice(at + 1) };
    }),
  };
}

function splitNameValue(entry: string): [string, string] {
  const at = entry.indexOf("=");
  return [entry.slice(0, at), entry.slice(at + 1)];
}

function resolvePolicy(policy: ConfigFile["policy"]): ResolvedPolicyConfig {
  const modes = Object.fromEntries(policy.modes.map(splitNameValue)) as Record<
    string,
    ResolvedPolicyConfig["mode"]
  >;
  const hooks = Object.fromEntries(policy.hooks.map((entry) => {
    // Validated by the schema: every entry parses.
    const { name, argv } = parseHookEntry(entry) as { name: string; argv: string[] };
    return [name, argv];
  }));
  return {
    enabled: policy.enabled,
    dir: policy.dir,
    pluginsDir: policy.plugins_dir,
    tickMs: ms(policy.tick),
    mode: policy.mode,
    modes,
    failClosed: policy.fail === "closed",
    deadlineMs: ms(policy.deadline),
    killGraceMs: ms(policy.kill_grace),
    memoryLimitBytes: bytes(policy.memory_limit),
    stackLimitBytes: bytes(policy.stack_limit),
    historySize: policy.history,
    stateMaxBytes: bytes(policy.state_max_size),
    hysteresisFor: policy.hysteresis_for,
    hysteresisOf: policy.hysteresis_of,
    cooldownMs: ms(policy.cooldown),
    restartBudget: policy.restart_budget,
    restartWindowMs: ms(policy.restart_window),
    maxBanFraction: policy.max_ban_fraction,
    hooks,
    hookTimeoutMs: ms(policy.hook_timeout),
    decisionLogBytes: bytes(policy.decision_log_size),
    decisionLogFiles: policy.decision_log_files,
    ...(policy.alert_webhook === "" ? {} : { alertWebhook: policy.alert_webhook }),
    ...(policy.alertmanager_url === "" ? {} : { alertmanagerUrl: policy.alertmanager_url }),
    alertQueueSize: policy.alert_queue,
    alertRetries: policy.alert_retries,
    pluginBudgetMs: ms(policy.plugin_budget),
    pluginFailClosed: policy.plugin_fail === "closed",
  };
}
