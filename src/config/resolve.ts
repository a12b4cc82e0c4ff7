/**
 * The resolved config: the validated file form turned into what the code reads (camelCase,
 * units applied: durations in milliseconds, sizes in bytes; derived paths filled in; frozen).
 *
 * @module
 */

import { join } from "node:path";
import { IDENTITY_FILE_NAME } from "./constants.ts";
import { parseHookEntry } from "./command_line.ts";
import {
  type ACME_CHALLENGES,
  type BALANCER_ALGORITHMS,
  type ConfigFile,
  isSecureWebSocket,
  type LOG_FORMATS,
  type LOG_LEVELS,
  type POLICY_MODES,
} from "./schema.ts";
import { parseDurationMs, parseRatePerSecond, parseSizeBytes } from "./units.ts";

/** `[node]`, resolved. */
export interface ResolvedNodeConfig {
  /** `node.data_dir`: Directory for the identity key and persistent state. */
  readonly dataDir: string;
  /**
   * `node.identity_file`: Ed25519 private key (libp2p protobuf bytes, as go-libp2p-relay-daemon
   * writes).
   */
  readonly identityFile: string;
  /** `node.listen`: Multiaddrs the relay listens on (TCP and WebSockets). */
  readonly listen: readonly string[];
  /**
   * `node.announce`: Public multiaddrs announced to peers instead of the listen addresses ([] =
   * announce what we listen on).
   */
  readonly announce: readonly string[];
  /**
   * `node.drain_timeout` (in milliseconds): On SIGTERM/SIGINT: how long open circuits may finish
   * before the process exits.
   */
  readonly drainTimeoutMs: number;
}

/** `[connections]`, resolved. `inboundPerIpPerSecond` 0 means unlimited. */
export interface ResolvedConnectionsConfig {
  /**
   * `connections.max_connections`: Most open libp2p connections before the connection manager
   * prunes; keep above relay.max_reservations (and raise LimitNOFILE to match).
   */
  readonly maxConnections: number;
  /**
   * `connections.max_pending_inbound`: Most inbound connections still in their handshake at once;
   * past it the oldest of the most-represented subnet is reset.
   */
  readonly maxPendingInbound: number;
  /**
   * `connections.inbound_per_ip_per_second`: Most new inbound connections per IP per second (0 =
   * unlimited; the rate limiter does finer work).
   */
  readonly inboundPerIpPerSecond: number;
  /**
   * `connections.dial_timeout` (in milliseconds): Timeout for an outbound dial, including its
   * handshake.
   */
  readonly dialTimeoutMs: number;
  /**
   * `connections.inbound_upgrade_timeout` (in milliseconds): Timeout for an inbound connection's
   * handshake, counted from accept (WebSocket upgrade, Noise, yamux).
   */
  readonly inboundUpgradeTimeoutMs: number;
  /**
   * `connections.peer_address_ttl` (in milliseconds): How long a peer's addresses stay in the peer
   * store after we last heard them.
   */
  readonly peerAddressTtlMs: number;
  /**
   * `connections.peer_ttl` (in milliseconds): How long an idle peer without addresses stays in the
   * peer store.
   */
  readonly peerTtlMs: number;
  /**
   * `connections.max_pending_per_ip`: Most inbound connections one IP may have in their handshake
   * at once; past it that IP's oldest is reset.
   */
  readonly maxPendingPerIp: number;
  /**
   * `connections.max_pending_per_subnet`: Most inbound connections one subnet
   * (relay.subnet_prefix_v4/_v6) may have in their handshake at once; past it that subnet's oldest
   * is reset.
   */
  readonly maxPendingPerSubnet: number;
  /**
   * `connections.header_timeout` (in milliseconds): WebSockets: time from accept until the HTTP
   * upgrade request (and TLS for WSS) has arrived.
   */
  readonly headerTimeoutMs: number;
  /** 0 = never. */
  readonly idleTimeoutMs: number;
  /** 0 = the file descriptor budget is off. */
  readonly fdReserve: number;
}

/** A HOST:PORT to listen on, resolved. */
export interface ResolvedHostPort {
  /** Host name or IP address, without the brackets of an IPv6 address. */
  readonly hostname: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
}

/** `[http]`, resolved. */
export interface ResolvedHttpConfig extends ResolvedHostPort {
  /**
   * `http.max_connections`: Most open ops connections; past it an idle or half-sent one is reset,
   * else the new one is refused.
   */
  readonly maxConnections: number;
  /**
   * `http.max_connections_per_ip`: Most open ops connections from one IP; past it that IP's oldest
   * idle or half-sent one is reset.
   */
  readonly maxConnectionsPerIp: number;
  /**
   * `http.header_timeout` (in milliseconds): Time from accept (or from the previous response) until
   * a request head has arrived.
   */
  readonly headerTimeoutMs: number;
  /**
   * `http.request_timeout` (in milliseconds): Time from a request head until its response is sent.
   */
  readonly requestTimeoutMs: number;
  /**
   * `http.idle_timeout` (in milliseconds): How long a kept-alive ops connection may wait for its
   * next request.
   */
  readonly idleTimeoutMs: number;
}

/** `[log]`, resolved. */
export interface ResolvedLogConfig {
  /** `log.level`: Lowest level written. */
  readonly level: (typeof LOG_LEVELS)[number];
  /**
   * `log.format`: "pretty" for people (coloured only on a terminal, never with NO_COLOR set),
   * "json" for one JSON object per line (journald, log shippers): every line hopd writes, runtime
   * warnings included.
   */
  readonly format: (typeof LOG_FORMATS)[number];
}

/** A token rate: refill per second and bucket size; rate 0 = unlimited. */
export interface ResolvedRate {
  /** Tokens added per second; 0 = unlimited. */
  readonly ratePerSecond: number;
  /** Most tokens the bucket holds: how many events may come at once. */
  readonly burst: number;
}

/** `[limits]`, resolved: events per second and bytes per second; 0 = unlimited. */
export interface ResolvedLimitsConfig {
  /** `limits.connections_per_ip`: New inbound connections per remote IP. */
  readonly connectionsPerIp: ResolvedRate;
  /**
   * `limits.connections_per_subnet`: New inbound connections per remote subnet
   * (relay.subnet_prefix_v4/_v6).
   */
  readonly connectionsPerSubnet: ResolvedRate;
  /** `limits.connections_global`: New inbound connections in total. */
  readonly connectionsGlobal: ResolvedRate;
  /** `limits.reservations_per_peer`: RESERVE requests (new and renewals) per peer. */
  readonly reservationsPerPeer: ResolvedRate;
  /** `limits.reservations_per_ip`: RESERVE requests per remote IP. */
  readonly reservationsPerIp: ResolvedRate;
  /** `limits.reservations_global`: RESERVE requests in total. */
  readonly reservationsGlobal: ResolvedRate;
  /** `limits.circuits_per_peer`: CONNECT requests per initiating peer. */
  readonly circuitsPerPeer: ResolvedRate;
  /** `limits.circuits_global`: CONNECT requests in total. */
  readonly circuitsGlobal: ResolvedRate;
  /**
   * `limits.http_requests_per_ip`: Ops HTTP /v1/* requests per caller IP (probes and /metrics are
   * exempt).
   */
  readonly httpRequestsPerIp: ResolvedRate;
  /**
   * `limits.bandwidth_per_circuit` (in bytes per second): Relayed bytes per second per direction of
   * one circuit ("0" = unlimited).
   */
  readonly bandwidthPerCircuitBytesPerSecond: number;
  /**
   * `limits.bandwidth_per_peer` (in bytes per second): Relayed bytes per second over all circuits a
   * peer initiated ("0" = unlimited).
   */
  readonly bandwidthPerPeerBytesPerSecond: number;
  /**
   * `limits.bandwidth_global` (in bytes per second): Relayed bytes per second over all circuits,
   * shared fairly between peers ("0" = unlimited).
   */
  readonly bandwidthGlobalBytesPerSecond: number;
  /**
   * `limits.bandwidth_burst` (in milliseconds): Burst of each bandwidth cap, as time at its rate
   * (at least 16 KiB): the bytes relayed in any window of T seconds stay within cap × T + burst.
   */
  readonly bandwidthBurstMs: number;
  /**
   * `limits.max_tracked_keys`: Most IPs, subnets or peers each limiter table remembers (memory
   * bound).
   */
  readonly maxTrackedKeys: number;
  /**
   * `limits.reservation_flood_refusals`: RESERVE refusals for the per-IP rate within 10 s that
   * make an IP pay a reservation token per new connection at accept (0 = off).
   */
  readonly reservationFloodRefusals: number;
  /** Widest CIDR bans (shortest prefixes) allowed without force, per family. */
  readonly banPrefixMinV4: number;
  /**
   * `limits.ban_prefix_min_v6`: Widest IPv6 CIDR ban without force: a block wider than this prefix
   * needs "force": true from the admin API and is never taken from a policy.
   */
  readonly banPrefixMinV6: number;
}

/** `[access]`, resolved. */
export interface ResolvedAccessConfig {
  /** `access.deny_peers`: Peer IDs always refused (at the handshake, reservation and circuit). */
  readonly denyPeers: readonly string[];
  /** `access.deny_cidrs`: IPs or CIDRs always refused, before the handshake. */
  readonly denyCidrs: readonly string[];
  /** `access.allow_peers`: Peer IDs that skip rate limits and bandwidth caps (your own nodes). */
  readonly allowPeers: readonly string[];
  /** `access.allow_cidrs`: IPs or CIDRs that skip rate limits and bandwidth caps. */
  readonly allowCidrs: readonly string[];
  /**
   * `access.allowlist_max_circuits_per_peer`: Circuit limit per allowlisted peer instead of
   * relay.max_circuits_per_peer (0 = unlimited).
   */
  readonly allowlistMaxCircuitsPerPeer: number;
}

/** `[admin]`, resolved. */
export interface ResolvedAdminConfig {
  /** Path of the token file, or undefined when the admin API takes no token. */
  readonly tokenFile?: string;
  /** `admin.allow_remote`: Answer admin callers that are not on loopback (requires token_file). */
  readonly allowRemote: boolean;
  /** `admin.max_body_size` (in bytes): Largest admin request body; larger ones get 413. */
  readonly maxBodyBytes: number;
}

/** `[tls]`, resolved: file paths, or undefined when TLS is off. */
export interface ResolvedTlsConfig {
  /**
   * `tls.cert_file`: PEM certificate chain for WebSockets over TLS (listen on e.g.
   * "/ip4/0.0.0.0/tcp/443/tls/ws").
   */
  readonly certFile?: string;
  /** `tls.key_file`: PEM private key of cert_file. */
  readonly keyFile?: string;
}

/** `[acme]`, resolved: milliseconds, HOST:PORT split, unset strings as undefined. */
export interface ResolvedAcmeConfig {
  /**
   * `acme.enabled`: Obtain and renew the WebSockets-over-TLS certificate from an ACME CA (Let's
   * Encrypt by default) instead of [tls] files.
   */
  readonly enabled: boolean;
  /**
   * `acme.directory`: ACME directory URL of the CA (Let's Encrypt production by default; its
   * staging directory for trials).
   */
  readonly directoryUrl: string;
  /**
   * `acme.domains`: DNS names this relay answers for (A/AAAA records pointing here), e.g.
   * ["relay.example.com"]; one certificate covers them all, and the relay announces
   * /dns4/<name>/tcp/<port>/tls/ws for each.
   */
  readonly domains: readonly string[];
  /** `acme.email`: Contact address given to the CA for expiry and policy mail ("" = none). */
  readonly email?: string;
  /**
   * `acme.challenge`: How the CA checks control of the domains: "http-01" answers on http_listen
   * (port 80 as the CA sees it). tls-alpn-01 is not available: see docs/RELAY.md.
   */
  readonly challenge: (typeof ACME_CHALLENGES)[number];
  /** Where http-01 challenges are answered. */
  readonly httpListen: ResolvedHostPort;
  /**
   * `acme.renew_before` (in milliseconds): Renew this long before the certificate expires (a
   * certificate shorter-lived than this is renewed at half its lifetime).
   */
  readonly renewBeforeMs: number;
  /**
   * `acme.directory_ca_file`: PEM CA certificate(s) to trust for the directory's HTTPS, for a
   * private CA such as step-ca or pebble ("" = the system's trust).
   */
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
  /**
   * `autonat.enabled`: Serve AutoNAT v1 (/libp2p/autonat/1.0.0): dial a client back so it learns
   * whether it is reachable. go-libp2p nodes that use hopd through autorelay reserve only once
   * AutoNAT said they are private; where no other AutoNAT server is around they never reserve.
   */
  readonly enabled: boolean;
  /** `autonat.dials_per_peer`: Dial-back requests served per peer. */
  readonly dialsPerPeer: ResolvedRate;
  /** `autonat.dials_global`: Dial-back requests served in total. */
  readonly dialsGlobal: ResolvedRate;
  /**
   * `autonat.dial_timeout` (in milliseconds): Longest the dial-backs of one request may take
   * together (the addresses one at a time).
   */
  readonly dialTimeoutMs: number;
  /** `autonat.max_addrs`: Most addresses of one request dialed back. */
  readonly maxAddrs: number;
}

/** The whole config as the code uses it: complete, validated once, read-only. */
export interface ResolvedConfig {
  /** `[node]`. */
  readonly node: ResolvedNodeConfig;
  /** `[connections]`. */
  readonly connections: ResolvedConnectionsConfig;
  /** `[http]`. */
  readonly http: ResolvedHttpConfig;
  /** `[log]`. */
  readonly log: ResolvedLogConfig;
  /** `[limits]`. */
  readonly limits: ResolvedLimitsConfig;
  /** `[access]`. */
  readonly access: ResolvedAccessConfig;
  /** `[admin]`. */
  readonly admin: ResolvedAdminConfig;
  /** `[tls]`. */
  readonly tls: ResolvedTlsConfig;
  /** `[acme]`. */
  readonly acme: ResolvedAcmeConfig;
  /** `[relay]`. */
  readonly relay: ResolvedRelaySectionConfig;
  /** `[autonat]`. */
  readonly autonat: ResolvedAutonatConfig;
  /** `[policy]`. */
  readonly policy: ResolvedPolicyConfig;
  /** `[federation]`. */
  readonly federation: ResolvedFederationConfig;
}

/** `[federation]`, resolved: milliseconds, bytes per second, parsed coordinates and map. */
export interface ResolvedFederationConfig {
  /**
   * `federation.enabled`: Join a federation of hopd relays: publish this relay's load over
   * gossipsub, keep a view of the members' and answer GET /v1/select and /hopd/select/1.0.0.
   */
  readonly enabled: boolean;
  /**
   * `federation.members`: Peer IDs of the members (this node's own may be listed); reports signed
   * by any other key are rejected.
   */
  readonly members: readonly string[];
  /**
   * `federation.bootstrap`: Multiaddrs (with /p2p/<peer id>) of members to dial at start; members
   * learnt later are dialed at the addresses they announce.
   */
  readonly bootstrap: readonly string[];
  /** `federation.topic`: Gossipsub topic of the load reports; every member must use the same. */
  readonly topic: string;
  /** `federation.interval` (in milliseconds): How often this node publishes its load report. */
  readonly intervalMs: number;
  /** Silence after which a member is suspect (suspect_after × interval). */
  readonly suspectAfterMs: number;
  /** Silence after which a member is dead (dead_after × interval). */
  readonly deadAfterMs: number;
  /**
   * `federation.region`: This relay's region, e.g. "eu-west" (letters, digits, . _ : -; "" = none),
   * for the geo algorithm.
   */
  readonly region?: string;
  /** `federation.coordinates`: latitude in degrees, when set. */
  readonly lat?: number;
  /** `federation.coordinates`: longitude in degrees, when set. */
  readonly lon?: number;
  /**
   * `federation.weight`: Share of new clients relative to the other members (0 = none; policies may
   * change it with setWeight).
   */
  readonly weight: number;
  /** 0 = not scored. */
  readonly bandwidthBytesPerSecond: number;
  /** `federation.algorithm`: Ranking used when a selection names none. */
  readonly algorithm: (typeof BALANCER_ALGORITHMS)[number];
  /**
   * `federation.cidr_regions`: Client networks and their regions, for the geo algorithm when a
   * client gives no location, e.g. ["203.0.113.0/24=eu-west"] (longest prefix wins).
   */
  readonly cidrRegions: readonly { readonly cidr: string; readonly region: string }[];
}

/** `[policy]`, resolved. */
export interface ResolvedPolicyConfig {
  /**
   * `policy.enabled`: Run the policy engine (policies in dir, plugins in plugins_dir,
   * hot-reloaded).
   */
  readonly enabled: boolean;
  /** `policy.dir`: Directory of health and remediation policies (*.js, with *_test.js fixtures). */
  readonly dir: string;
  /** `policy.plugins_dir`: Directory of event-hook plugins (onReservation, onCircuit, score). */
  readonly pluginsDir: string;
  /** `policy.tick` (in milliseconds): How often every policy evaluates a fresh snapshot. */
  readonly tickMs: number;
  /**
   * `policy.mode`: "enforce" runs actions and feeds /ready; "warn" logs them and delivers alerts
   * only; "dryrun" records them only.
   */
  readonly mode: (typeof POLICY_MODES)[number];
  /** Per-policy modes by policy name. */
  readonly modes: Readonly<Record<string, (typeof POLICY_MODES)[number]>>;
  /**
   * `policy.fail` is "closed": a policy that errors or times out counts as unhealthy (else: no
   * opinion).
   */
  readonly failClosed: boolean;
  /**
   * `policy.deadline` (in milliseconds): Longest run of one evaluation before it is interrupted.
   */
  readonly deadlineMs: number;
  /**
   * `policy.kill_grace` (in milliseconds): Time past the deadline after which a sandbox stuck in a
   * native built-in (where the interrupt cannot fire) is killed and loaded again.
   */
  readonly killGraceMs: number;
  /**
   * `policy.sandbox_thread`: where the sandboxes run, the main thread or a worker thread
   * (src/policy/sandbox_host.ts).
   */
  readonly sandboxThread: "main" | "worker";
  /**
   * `policy.memory_limit` (in bytes): Memory cap of each policy's and plugin's sandbox (its
   * WebAssembly memory, QuickJS's initial 16 MiB included; at least 20MiB).
   */
  readonly memoryLimitBytes: number;
  /** `policy.stack_limit` (in bytes): Stack limit of each policy's sandbox. */
  readonly stackLimitBytes: number;
  /** `policy.history`: Snapshots kept for ctx.history(n). */
  readonly historySize: number;
  /** `policy.state_max_size` (in bytes): Largest ctx.state (as JSON) a policy may keep. */
  readonly stateMaxBytes: number;
  /**
   * `policy.hysteresis_for`: An action (or an unhealthy verdict) must be asked for in this many of
   * the last hysteresis_of ticks.
   */
  readonly hysteresisFor: number;
  /** `policy.hysteresis_of`: Window of ticks for hysteresis_for. */
  readonly hysteresisOf: number;
  /**
   * `policy.cooldown` (in milliseconds): After an action runs, the same action of the same policy
   * is held back this long.
   */
  readonly cooldownMs: number;
  /** `policy.restart_budget`: Restarts policies may cause per restart_window; then alerts only. */
  readonly restartBudget: number;
  /** `policy.restart_window` (in milliseconds): Window of restart_budget. */
  readonly restartWindowMs: number;
  /**
   * `policy.max_ban_fraction`: Most peers (fraction of connected peers) policies may hold banned at
   * once.
   */
  readonly maxBanFraction: number;
  /** Declared hooks: name → argv (no shell). */
  readonly hooks: Readonly<Record<string, readonly string[]>>;
  /** `policy.hook_timeout` (in milliseconds): A hook still running after this is killed. */
  readonly hookTimeoutMs: number;
  /**
   * `policy.decision_log_size` (in bytes): Size at which <data_dir>/decisions.ndjson rotates ("0" =
   * no log).
   */
  readonly decisionLogBytes: number;
  /** `policy.decision_log_files`: Rotated decision logs kept. */
  readonly decisionLogFiles: number;
  /** `policy.alert_webhook`: URL that receives each alert as a JSON POST ("" = none). */
  readonly alertWebhook?: string;
  /**
   * `policy.alertmanager_url`: Alertmanager base URL, e.g. "http://127.0.0.1:9093" (alerts go to
   * /api/v2/alerts; "" = none).
   */
  readonly alertmanagerUrl?: string;
  /** `policy.alert_queue`: Alerts waiting for delivery at most; older ones are dropped. */
  readonly alertQueueSize: number;
  /**
   * `policy.alert_retries`: Delivery attempts per alert and sink (exponential backoff with jitter).
   */
  readonly alertRetries: number;
  /** `policy.plugin_budget` (in milliseconds): Time a plugin hook has to answer. */
  readonly pluginBudgetMs: number;
  /**
   * `policy.plugin_fail` is "closed": a plugin that errors or misses its budget refuses (else:
   * accepts).
   */
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
      reservationFloodRefusals: limits.reservation_flood_refusals,
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
    sandboxThread: policy.sandbox_thread,
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
