/**
 * The config file's schema: every section and key hopd reads, with its default and its
 * documentation. This one table drives validation, `hopd config example` and the
 * `HOPD_*` environment variables, so a key documented here is a key that works.
 *
 * @module
 */

import { isIP } from "node:net";
import { z } from "zod";
import { multiaddr } from "@multiformats/multiaddr";
import { type HookEntry, parseHookEntry } from "./command_line.ts";
import { parseDurationMs, parseRatePerSecond, parseSizeBytes } from "./units.ts";

/** Log levels accepted by `[log] level`, least to most severe. */
export const LOG_LEVELS = ["trace", "debug", "info", "warning", "error", "fatal"] as const;
/** Log formats accepted by `[log] format`. */
export const LOG_FORMATS = ["pretty", "json"] as const;

function duration(defaultText: string, doc: string) {
  return z.string()
    .refine((v) => parseDurationMs(v) !== undefined, {
      message: 'must be a duration such as "500ms", "90s", "2m" or "1h"',
    })
    .default(defaultText)
    .describe(doc);
}

function positiveDuration(defaultText: string, doc: string) {
  return z.string()
    .refine((v) => (parseDurationMs(v) ?? 0) > 0, {
      message: 'must be a positive duration such as "90s", "2m" or "1h"',
    })
    .default(defaultText)
    .describe(doc);
}

function size(defaultText: string, doc: string) {
  return z.string()
    .refine((v) => parseSizeBytes(v) !== undefined, {
      message: 'must be a size such as "4096", "128KiB" or "10MB" ("0" = unlimited)',
    })
    .default(defaultText)
    .describe(doc);
}

/** An integer key's bounds (inclusive). */
interface CountRange {
  readonly min?: number;
  readonly max?: number;
}

function count(defaultValue: number, doc: string, range: CountRange = {}) {
  const { min = 0, max = 2 ** 31 - 1 } = range;
  return z.number().int().min(min).max(max).default(defaultValue).describe(doc);
}

function isMultiaddr(text: string): boolean {
  try {
    multiaddr(text);
    return true;
  } catch {
    return false;
  }
}

const MULTIADDR = z.string().refine(isMultiaddr, {
  message: 'must be a multiaddr such as "/ip4/0.0.0.0/tcp/4001"',
});

/** The listen addresses hopd's transports (TCP, WebSockets) can open, as an operator reads them. */
export const LISTEN_FORMS =
  "/ip4/<address>/tcp/<port> or /ip6/<address>/tcp/<port>, optionally followed by " +
  "/ws, or by /wss or /tls/ws with [tls] set";

// What @libp2p/tcp and @libp2p/websockets listen on, after the IP and TCP port.
const LISTEN_SUFFIXES = ["", "/ws", "/wss", "/tls/ws"];

/**
 * Whether hopd can listen on a multiaddr: an IP address, a TCP port, and nothing, WebSockets
 * or WebSockets over TLS after it. Anything else (QUIC, WebRTC, a DNS name, a /p2p suffix)
 * would fail only when libp2p starts.
 *
 * @param text A multiaddr.
 * @returns True when one of {@linkcode LISTEN_FORMS} matches.
 */
export function isListenAddress(text: string): boolean {
  let components;
  try {
    components = multiaddr(text).getComponents();
  } catch {
    return false;
  }
  const [ip, tcp, ...rest] = components;
  if (ip === undefined || tcp === undefined) return false;
  if ((ip.name !== "ip4" && ip.name !== "ip6") || tcp.name !== "tcp") return false;
  if (rest.some((c) => c.value !== undefined)) return false;
  return LISTEN_SUFFIXES.includes(rest.map((c) => `/${c.name}`).join(""));
}

const LISTEN_ADDR = MULTIADDR.refine(isListenAddress, {
  message: `must be a TCP or WebSocket listen address (${LISTEN_FORMS}; ` +
    "QUIC, WebRTC and WebTransport are not supported)",
});

const HOST_PORT = z.string().refine(
  (v) =>
    /^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}$/.test(v) &&
    // Five digits also allow 65536..99999, which no socket can bind.
    Number(v.slice(v.lastIndexOf(":") + 1)) <= 65_535,
  { message: 'must be HOST:PORT such as "127.0.0.1:8080" or "[::1]:8080" (port 0-65535)' },
);

const nodeSection = z.strictObject({
  data_dir: z.string().min(1).default("./hopd-data").describe(
    "Directory for the identity key and persistent state. Under systemd, $STATE_DIRECTORY is used when this key is not set anywhere.",
  ),
  identity_file: z.string().default("").describe(
    'Ed25519 private key (libp2p protobuf bytes, as go-libp2p-relay-daemon writes). "" = <data_dir>/identity.key, created on first start.',
  ),
  listen: z.array(LISTEN_ADDR).default(["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/tcp/4002/ws"])
    .describe("Multiaddrs the relay listens on (TCP and WebSockets)."),
  announce: z.array(MULTIADDR).default([]).describe(
    "Public multiaddrs announced to peers instead of the listen addresses ([] = announce what we listen on).",
  ),
  drain_timeout: duration(
    "30s",
    "On SIGTERM/SIGINT: how long open circuits may finish before the process exits.",
  ),
});

const connectionsSection = z.strictObject({
  max_connections: count(
    32_768,
    "Most open libp2p connections before the connection manager prunes; keep above relay.max_reservations (and raise LimitNOFILE to match).",
    { min: 1 },
  ),
  max_pending_inbound: count(
    512,
    "Most inbound connections still in their handshake at once; past it the oldest of the most-represented subnet is reset.",
    { min: 1 },
  ),
  max_pending_per_ip: count(
    16,
    "Most inbound connections one IP may have in their handshake at once; past it that IP's oldest is reset.",
    { min: 1 },
  ),
  max_pending_per_subnet: count(
    64,
    "Most inbound connections one subnet (relay.subnet_prefix_v4/_v6) may have in their handshake at once; past it that subnet's oldest is reset.",
    { min: 1 },
  ),
  header_timeout: positiveDuration(
    "5s",
    "WebSockets: time from accept until the HTTP upgrade request (and TLS for WSS) has arrived.",
  ),
  idle_timeout: duration(
    "5m",
    "Close an inbound connection that sent nothing for this long (hopd pings every connection every 30 s, so a live peer answers); 0 = never.",
  ),
  fd_reserve: count(
    256,
    "File descriptors kept free for hopd itself (ops server, data dir, federation): past it new inbound connections shed an old pending one or are refused. 0 = off.",
  ),
  inbound_per_ip_per_second: count(
    0,
    "Most new inbound connections per IP per second (0 = unlimited; the rate limiter does finer work).",
  ),
  dial_timeout: duration("10s", "Timeout for an outbound dial, including its handshake."),
  inbound_upgrade_timeout: duration(
    "10s",
    "Timeout for an inbound connection's handshake, counted from accept (WebSocket upgrade, Noise, yamux).",
  ),
  peer_address_ttl: duration(
    "1h",
    "How long a peer's addresses stay in the peer store after we last heard them.",
  ),
  peer_ttl: duration("1h", "How long an idle peer without addresses stays in the peer store."),
});

const httpSection = z.strictObject({
  listen: HOST_PORT.default("127.0.0.1:8080").describe(
    "HOST:PORT of the ops HTTP server (/health, /ready, /metrics, /v1/...). Port 0 picks a free port.",
  ),
  max_connections: count(
    256,
    "Most open ops connections; past it an idle or half-sent one is reset, else the new one is refused.",
    { min: 1 },
  ),
  max_connections_per_ip: count(
    64,
    "Most open ops connections from one IP; past it that IP's oldest idle or half-sent one is reset.",
    { min: 1 },
  ),
  header_timeout: positiveDuration(
    "5s",
    "Time from accept (or from the previous response) until a request head has arrived.",
  ),
  request_timeout: positiveDuration(
    "30s",
    "Time from a request head until its response is sent.",
  ),
  idle_timeout: positiveDuration(
    "5s",
    "How long a kept-alive ops connection may wait for its next request.",
  ),
});

const logSection = z.strictObject({
  level: z.enum(LOG_LEVELS).default("info").describe("Lowest level written."),
  format: z.enum(LOG_FORMATS).default("pretty").describe(
    '"pretty" for people (coloured only on a terminal, never with NO_COLOR set), "json" for one JSON object per line (journald, log shippers): every line hopd writes, runtime warnings included.',
  ),
});

function rate(defaultText: string, doc: string) {
  return z.string()
    .refine((v) => parseRatePerSecond(v) !== undefined, {
      message: 'must be a rate such as "10/s", "600/m" or "1/10s" ("0" = unlimited)',
    })
    .default(defaultText)
    .describe(doc);
}

function burst(defaultValue: number, what: string) {
  return count(
    defaultValue,
    `Bucket size of ${what}: how many may come at once (0 = one second's worth).`,
  );
}

function peerIdList(doc: string) {
  return z.array(
    z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$|^b[a-z2-7]{50,70}$/, {
      message: "must be a peer ID such as 12D3KooW…",
    }),
  ).default([]).describe(doc);
}

const CIDR = z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, {
  message: 'must be an IP or CIDR such as "203.0.113.0/24" or "2001:db8::/32"',
});

const limitsSection = z.strictObject({
  connections_per_ip: rate("10/s", "New inbound connections per remote IP."),
  connections_per_ip_burst: burst(40, "connections_per_ip"),
  connections_per_subnet: rate(
    "50/s",
    "New inbound connections per remote subnet (relay.subnet_prefix_v4/_v6).",
  ),
  connections_per_subnet_burst: burst(200, "connections_per_subnet"),
  connections_global: rate("1000/s", "New inbound connections in total."),
  connections_global_burst: burst(2_000, "connections_global"),
  reservations_per_peer: rate("1/s", "RESERVE requests (new and renewals) per peer."),
  reservations_per_peer_burst: burst(10, "reservations_per_peer"),
  reservations_per_ip: rate("5/s", "RESERVE requests per remote IP."),
  reservations_per_ip_burst: burst(40, "reservations_per_ip"),
  reservation_flood_refusals: count(
    8,
    "An IP whose RESERVE requests were refused for reservations_per_ip this many times in 10 s is flooding: for the next 10 s each new connection from it takes one of its reservation tokens when accepted, before any handshake, and is reset when none is left (its RESERVE then uses the token it paid). Peers behind one NAT that stay within reservations_per_ip are never affected. 0 = off.",
  ),
  reservations_global: rate("200/s", "RESERVE requests in total."),
  reservations_global_burst: burst(1_000, "reservations_global"),
  circuits_per_peer: rate("5/s", "CONNECT requests per initiating peer."),
  circuits_per_peer_burst: burst(20, "circuits_per_peer"),
  circuits_global: rate("1000/s", "CONNECT requests in total."),
  circuits_global_burst: burst(2_000, "circuits_global"),
  http_requests_per_ip: rate(
    "50/s",
    "Ops HTTP /v1/* requests per caller IP (probes and /metrics are exempt).",
  ),
  http_requests_per_ip_burst: burst(200, "http_requests_per_ip"),
  bandwidth_per_circuit: size(
    "0",
    'Relayed bytes per second per direction of one circuit ("0" = unlimited).',
  ),
  bandwidth_per_peer: size(
    "0",
    'Relayed bytes per second over all circuits a peer initiated ("0" = unlimited).',
  ),
  bandwidth_global: size(
    "0",
    'Relayed bytes per second over all circuits, shared fairly between peers ("0" = unlimited).',
  ),
  bandwidth_burst: duration(
    "100ms",
    "Burst of each bandwidth cap, as time at its rate (at least 16 KiB): the bytes relayed in " +
      "any window of T seconds stay within cap × T + burst.",
  ),
  max_tracked_keys: count(
    100_000,
    "Most IPs, subnets or peers each limiter table remembers (memory bound).",
    { min: 1 },
  ),
  ban_prefix_min_v4: count(
    16,
    'Widest IPv4 CIDR ban without force: a block wider than this prefix (e.g. a /8) needs "force": true from the admin API and is never taken from a policy.',
    { min: 0, max: 32 },
  ),
  ban_prefix_min_v6: count(
    32,
    'Widest IPv6 CIDR ban without force: a block wider than this prefix needs "force": true from the admin API and is never taken from a policy.',
    { min: 0, max: 128 },
  ),
});

const accessSection = z.strictObject({
  deny_peers: peerIdList("Peer IDs always refused (at the handshake, reservation and circuit)."),
  deny_cidrs: z.array(CIDR).default([]).describe(
    "IPs or CIDRs always refused, before the handshake.",
  ),
  allow_peers: peerIdList("Peer IDs that skip rate limits and bandwidth caps (your own nodes)."),
  allow_cidrs: z.array(CIDR).default([]).describe(
    "IPs or CIDRs that skip rate limits and bandwidth caps.",
  ),
  allowlist_max_circuits_per_peer: count(
    0,
    "Circuit limit per allowlisted peer instead of relay.max_circuits_per_peer (0 = unlimited).",
  ),
});

const adminSection = z.strictObject({
  token_file: z.string().default("").describe(
    'File holding the bearer token for /v1/admin (first line; keep it mode 0600). "" = no token: the admin API answers loopback callers only.',
  ),
  allow_remote: z.boolean().default(false).describe(
    "Answer admin callers that are not on loopback (requires token_file).",
  ),
  max_body_size: size("16KiB", "Largest admin request body; larger ones get 413."),
});

const tlsSection = z.strictObject({
  cert_file: z.string().default("").describe(
    'PEM certificate chain for WebSockets over TLS (listen on e.g. "/ip4/0.0.0.0/tcp/443/tls/ws"). Re-read on SIGHUP.',
  ),
  key_file: z.string().default("").describe(
    "PEM private key of cert_file. Both or neither must be set. Re-read on SIGHUP.",
  ),
});

/** Whether a multiaddr is a WebSocket-over-TLS address (`/tls/ws`, `/wss`, `/tls/sni/…/ws`). */
export function isSecureWebSocket(addr: string): boolean {
  return /\/(wss|tls\/ws|tls\/sni\/[^/]+\/ws)(\/|$)/.test(addr);
}

/** ACME challenge types hopd answers, see docs/RELAY.md ("Certificates from ACME"). */
export const ACME_CHALLENGES = ["http-01"] as const;

const DNS_NAME = z.string().regex(
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i,
  { message: 'must be a DNS name such as "relay.example.com" (no wildcard, no IP address)' },
);

const acmeSection = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "Obtain and renew the WebSockets-over-TLS certificate from an ACME CA (Let's Encrypt by default) instead of [tls] files. Needs domains; listens on wss_listen unless node.listen has a /tls/ws address.",
  ),
  directory: z.string().regex(/^https?:\/\/\S+$/, {
    message:
      'must be an ACME directory URL such as "https://acme-v02.api.letsencrypt.org/directory"',
  }).default("https://acme-v02.api.letsencrypt.org/directory").describe(
    "ACME directory URL of the CA (Let's Encrypt production by default; its staging directory for trials).",
  ),
  domains: z.array(DNS_NAME).default([]).describe(
    'DNS names this relay answers for (A/AAAA records pointing here), e.g. ["relay.example.com"]; one certificate covers them all, and the relay announces /dns4/<name>/tcp/<port>/tls/ws for each.',
  ),
  email: z.string().default("").describe(
    'Contact address given to the CA for expiry and policy mail ("" = none).',
  ),
  challenge: z.enum(ACME_CHALLENGES).default("http-01").describe(
    'How the CA checks control of the domains: "http-01" answers on http_listen (port 80 as the CA sees it). tls-alpn-01 is not available: see docs/RELAY.md.',
  ),
  wss_listen: MULTIADDR.refine(isSecureWebSocket, {
    message: 'must be a TLS WebSocket multiaddr such as "/ip4/0.0.0.0/tcp/443/tls/ws"',
  }).default("/ip4/0.0.0.0/tcp/443/tls/ws").describe(
    "TLS WebSocket address added to node.listen when acme.enabled is true and node.listen has none: the certificate is served there.",
  ),
  http_listen: HOST_PORT.default("0.0.0.0:80").describe(
    "HOST:PORT where http-01 challenges are answered (the CA connects to port 80 of each domain).",
  ),
  renew_before: positiveDuration(
    "30d",
    "Renew this long before the certificate expires (a certificate shorter-lived than this is renewed at half its lifetime).",
  ),
  directory_ca_file: z.string().default("").describe(
    "PEM CA certificate(s) to trust for the directory's HTTPS, for a private CA such as step-ca or pebble (\"\" = the system's trust).",
  ),
  eab_kid: z.string().default("").describe(
    'Key identifier of the CA\'s external account binding, for CAs that need one ("" = none).',
  ),
  eab_hmac_key_file: z.string().default("").describe(
    "File holding the external account binding's HMAC key (base64url, first line; keep it mode 0600). Set together with eab_kid.",
  ),
});

const relaySection = z.strictObject({
  reservation_ttl: positiveDuration(
    "1h",
    "How long a reservation lasts before the client must renew it.",
  ),
  max_reservations: count(
    16_384,
    "Most reservations held at once (0 = unlimited). Keep connections.max_connections above it.",
    { min: 0 },
  ),
  max_reservations_per_ip: count(
    32,
    "Most reservations held by peers from one IP address (0 = unlimited).",
    { min: 0 },
  ),
  max_reservations_per_subnet: count(
    128,
    "Most reservations held by peers from one subnet, see subnet_prefix_v4/_v6 (0 = unlimited).",
    { min: 0 },
  ),
  subnet_prefix_v4: count(24, "IPv4 prefix length that makes a subnet.", { min: 0, max: 32 }),
  subnet_prefix_v6: count(48, "IPv6 prefix length that makes a subnet.", { min: 0, max: 128 }),
  max_circuits: count(4_096, "Most relayed circuits open at once (0 = unlimited).", { min: 0 }),
  max_circuits_per_peer: count(
    16,
    "Most circuits a single source peer may have open (0 = unlimited).",
    { min: 0 },
  ),
  circuit_duration: duration(
    "2m",
    'Longest life of a circuit, advertised to clients in seconds ("0" = unlimited, not advertised).',
  ),
  circuit_data: size(
    "128KiB",
    'Most bytes relayed per direction of a circuit, advertised to clients ("0" = unlimited, not advertised).',
  ),
  handshake_timeout: duration(
    "10s",
    'Time a peer has to complete a hop or stop exchange ("0" = no timeout).',
  ),
  max_message_size: size(
    "4KiB",
    'Largest hop/stop protobuf message accepted ("0" = no limit; not advised).',
  ),
  stop_pipelining: z.boolean().default(true).describe(
    "Send the STOP stream's protocol negotiation and CONNECT to the target in one write (one round trip less per circuit setup). false: negotiate first, then send CONNECT, for a target that cannot take pipelined negotiation.",
  ),
});

/** Modes a policy runs in, see docs/POLICIES.md (the policy engine and its routes use this list). */
export const POLICY_MODES = ["enforce", "warn", "dryrun"] as const;
/** What a failing policy or plugin means: no opinion (open) or unhealthy/refuse (closed). */
export const FAIL_MODES = ["open", "closed"] as const;

/** One `policy.hooks` entry, checked by `parseHookEntry` (the message names the problem). */
const HOOK_ENTRY = z.unknown().superRefine((entry, ctx) => {
  const parsed = parseHookEntry(entry);
  if ("problem" in parsed) ctx.addIssue({ code: "custom", message: parsed.problem });
}) as unknown as z.ZodType<HookEntry>;

const policySection = z.strictObject({
  enabled: z.boolean().default(true).describe(
    "Run the policy engine (policies in dir, plugins in plugins_dir, hot-reloaded).",
  ),
  dir: z.string().default("./policies").describe(
    "Directory of health and remediation policies (*.js, with *_test.js fixtures). A missing directory means no policies.",
  ),
  plugins_dir: z.string().default("./plugins").describe(
    "Directory of event-hook plugins (onReservation, onCircuit, score).",
  ),
  tick: positiveDuration("5s", "How often every policy evaluates a fresh snapshot."),
  mode: z.enum(POLICY_MODES).default("enforce").describe(
    '"enforce" runs actions and feeds /ready; "warn" logs them and delivers alerts only; "dryrun" records them only.',
  ),
  modes: z.array(
    z.string().regex(/^[A-Za-z0-9_-]+=(enforce|warn|dryrun)$/, {
      message: 'must be "<policy>=<enforce|warn|dryrun>"',
    }),
  ).default([]).describe('Per-policy modes, e.g. ["restart_on_memory=dryrun"].'),
  fail: z.enum(FAIL_MODES).default("open").describe(
    'A policy that errors or times out: "open" = no opinion, "closed" = counts as unhealthy.',
  ),
  deadline: positiveDuration("50ms", "Longest run of one evaluation before it is interrupted."),
  kill_grace: positiveDuration(
    "1s",
    'Time past the deadline after which a sandbox stuck in a native built-in (where the interrupt cannot fire) is killed and loaded again (with sandbox_thread = "worker", its worker is restarted).',
  ),
  sandbox_thread: z.enum(["main", "worker"]).default("main").describe(
    'Where the sandboxes run: "main" on the main thread (no worker: about 20 MB less at rest; a call stuck in a native built-in holds the thread until deadline + kill_grace); "worker" in a worker thread the engine kills (the event loop never waits on a sandbox).',
  ),
  memory_limit: size(
    "32MiB",
    "Memory cap of each policy's and plugin's sandbox (its WebAssembly memory, QuickJS's initial 16 MiB included; at least 20MiB).",
  ),
  stack_limit: size("512KiB", "Stack limit of each policy's sandbox."),
  history: count(60, "Snapshots kept for ctx.history(n).", { min: 1, max: 10_000 }),
  state_max_size: size("64KiB", "Largest ctx.state (as JSON) a policy may keep."),
  hysteresis_for: count(
    2,
    "An action (or an unhealthy verdict) must be asked for in this many of the last hysteresis_of ticks.",
    { min: 1, max: 1_000 },
  ),
  hysteresis_of: count(3, "Window of ticks for hysteresis_for.", { min: 1, max: 1_000 }),
  cooldown: duration(
    "5m",
    "After an action runs, the same action of the same policy is held back this long.",
  ),
  restart_budget: count(3, "Restarts policies may cause per restart_window; then alerts only.", {
    min: 0,
  }),
  restart_window: positiveDuration("1h", "Window of restart_budget."),
  max_ban_fraction: z.number().min(0).max(1).default(0.1).describe(
    "Most peers (fraction of connected peers) policies may hold banned at once.",
  ),
  hooks: z.array(HOOK_ENTRY).default([]).superRefine((entries, ctx) => {
    const seen = new Set<string>();
    entries.forEach((entry, i) => {
      const parsed = parseHookEntry(entry);
      if ("problem" in parsed || !seen.has(parsed.name)) {
        if (!("problem" in parsed)) seen.add(parsed.name);
        return;
      }
      ctx.addIssue({ code: "custom", path: [i], message: `names hook '${parsed.name}' twice` });
    });
  }).describe(
    `Commands policies may run by name (runHook), without a shell: "name=/abs/command args", quoted like a shell ("scale_up='/opt/my hooks/scale-up' --region eu"), or { name = "scale_up", argv = ["/opt/my hooks/scale-up", "--region", "eu"] }. Each command is an absolute path this hopd may run: scripts/compile.sh --hooks-config FILE grants exactly these.`,
  ),
  hook_timeout: positiveDuration("30s", "A hook still running after this is killed."),
  decision_log_size: size(
    "10MiB",
    'Size at which <data_dir>/decisions.ndjson rotates ("0" = no log).',
  ),
  decision_log_files: count(3, "Rotated decision logs kept.", { min: 1, max: 100 }),
  alert_webhook: z.string().default("").describe(
    'URL that receives each alert as a JSON POST ("" = none).',
  ),
  alertmanager_url: z.string().default("").describe(
    'Alertmanager base URL, e.g. "http://127.0.0.1:9093" (alerts go to /api/v2/alerts; "" = none).',
  ),
  alert_queue: count(1_000, "Alerts waiting for delivery at most; older ones are dropped.", {
    min: 1,
  }),
  alert_retries: count(
    5,
    "Delivery attempts per alert and sink (exponential backoff with jitter).",
    { min: 1 },
  ),
  plugin_budget: positiveDuration("20ms", "Time a plugin hook has to answer."),
  plugin_fail: z.enum(FAIL_MODES).default("open").describe(
    'A plugin that errors or misses its budget: "open" = accept, "closed" = refuse.',
  ),
});

/**
 * Ranking algorithms of the federation's balancer, see docs/FEDERATION.md: the one list (the
 * balancer, `?algorithm=`, /openapi.json and the metrics take it from here).
 */
export const BALANCER_ALGORITHMS = [
  "capacity",
  "least_connections",
  "weighted_round_robin",
  "geo",
  "affinity",
] as const;

const REGION_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

function isCidr(text: string): boolean {
  const slash = text.indexOf("/");
  const family = isIP(slash === -1 ? text : text.slice(0, slash));
  if (family === 0) return false;
  const prefix = text.slice(slash + 1);
  return slash === -1 || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

function isCidrRegion(entry: string): boolean {
  const at = entry.lastIndexOf("=");
  return at > 0 && isCidr(entry.slice(0, at)) && REGION_NAME.test(entry.slice(at + 1));
}

function isCoordinates(text: string): boolean {
  if (text === "") return true;
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  return m !== null && Math.abs(Number(m[1])) <= 90 && Math.abs(Number(m[2])) <= 180;
}

const federationSection = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "Join a federation of hopd relays: publish this relay's load over gossipsub, keep a view of the members' and answer GET /v1/select and /hopd/select/1.0.0.",
  ),
  members: peerIdList(
    "Peer IDs of the members (this node's own may be listed); reports signed by any other key are rejected. Required when enabled.",
  ),
  bootstrap: z.array(
    MULTIADDR.refine((v) => /\/p2p\/[^/]+$/.test(v), {
      message: 'must end in /p2p/<peer id>, e.g. "/ip4/192.0.2.1/tcp/4001/p2p/12D3KooW…"',
    }),
  ).default([]).describe(
    "Multiaddrs (with /p2p/<peer id>) of members to dial at start; members learnt later are dialed at the addresses they announce.",
  ),
  topic: z.string().regex(/^[\x21-\x7e]{1,128}$/, {
    message: "must be 1-128 printable ASCII characters without spaces",
  }).default("hopd/federation/1").describe(
    "Gossipsub topic of the load reports; every member must use the same.",
  ),
  interval: positiveDuration("1s", "How often this node publishes its load report."),
  suspect_after: z.number().positive().max(1_000).default(2).describe(
    "Report intervals of silence (or a lost connection) after which a member is suspect: kept in the view, left out of selections.",
  ),
  dead_after: z.number().positive().max(10_000).default(2.5).describe(
    "Report intervals of silence after which a member is dead (above suspect_after; 2.5 × 1s keeps death detection under 3 s).",
  ),
  region: z.union([z.literal(""), z.string().regex(REGION_NAME)]).default("").describe(
    'This relay\'s region, e.g. "eu-west" (letters, digits, . _ : -; "" = none), for the geo algorithm.',
  ),
  coordinates: z.string().refine(isCoordinates, {
    message: 'must be "LAT,LON" in degrees such as "50.11,8.68", or ""',
  }).default("").describe(
    'This relay\'s location as "LAT,LON" in degrees, e.g. "50.11,8.68" ("" = unknown), for the geo algorithm.',
  ),
  weight: z.number().min(0).max(1_000).default(1).describe(
    "Share of new clients relative to the other members (0 = none; policies may change it with setWeight).",
  ),
  capacity_bandwidth: size(
    "0",
    'Relayed bytes per second (both directions) this relay can carry, scored by the capacity algorithm ("0" = not scored).',
  ),
  algorithm: z.enum(BALANCER_ALGORITHMS).default("capacity").describe(
    "Ranking used when a selection names none.",
  ),
  cidr_regions: z.array(
    z.string().refine(isCidrRegion, {
      message: 'must be "<CIDR>=<region>" such as "203.0.113.0/24=eu-west"',
    }),
  ).default([]).describe(
    'Client networks and their regions, for the geo algorithm when a client gives no location, e.g. ["203.0.113.0/24=eu-west"] (longest prefix wins).',
  ),
});

const autonatSection = z.strictObject({
  enabled: z.boolean().default(true).describe(
    "Serve AutoNAT v1 (/libp2p/autonat/1.0.0): dial a client back so it learns whether it is " +
      "reachable. go-libp2p nodes that use hopd through autorelay reserve only once AutoNAT " +
      "said they are private; where no other AutoNAT server is around they never reserve.",
  ),
  dials_per_peer: rate("3/m", "Dial-back requests served per peer."),
  dials_per_peer_burst: burst(3, "dials_per_peer"),
  dials_global: rate("30/m", "Dial-back requests served in total."),
  dials_global_burst: burst(30, "dials_global"),
  dial_timeout: positiveDuration(
    "15s",
    "Longest the dial-backs of one request may take together (the addresses one at a time).",
  ),
  max_addrs: count(16, "Most addresses of one request dialed back.", { min: 1, max: 64 }),
});

/** Schema of the whole config file. Unknown keys are errors. */
export const CONFIG_SCHEMA = z.strictObject({
  node: nodeSection.default(nodeSection.parse({})),
  connections: connectionsSection.default(connectionsSection.parse({})),
  http: httpSection.default(httpSection.parse({})),
  log: logSection.default(logSection.parse({})),
  limits: limitsSection.default(limitsSection.parse({})),
  access: accessSection.default(accessSection.parse({})),
  admin: adminSection.default(adminSection.parse({})),
  tls: tlsSection.default(tlsSection.parse({})),
  acme: acmeSection.default(acmeSection.parse({})),
  relay: relaySection.default(relaySection.parse({})),
  autonat: autonatSection.default(autonatSection.parse({})),
  policy: policySection.default(policySection.parse({})),
  federation: federationSection.default(federationSection.parse({})),
}).superRefine((config, ctx) => {
  const { cert_file: cert, key_file: key } = config.tls;
  if ((cert === "") !== (key === "")) {
    ctx.addIssue({
      code: "custom",
      path: ["tls", cert === "" ? "cert_file" : "key_file"],
      message: "must be set together with tls." + (cert === "" ? "key_file" : "cert_file"),
    });
  }
  if (config.admin.allow_remote && config.admin.token_file === "") {
    ctx.addIssue({
      code: "custom",
      path: ["admin", "allow_remote"],
      message: "needs admin.token_file: remote admin callers must present a token",
    });
  }
  if (config.federation.enabled && config.federation.members.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["federation", "members"],
      message: "must list the members' peer IDs when federation.enabled is true",
    });
  }
  if (config.federation.dead_after <= config.federation.suspect_after) {
    ctx.addIssue({
      code: "custom",
      path: ["federation", "dead_after"],
      message: "must be above federation.suspect_after",
    });
  }
  if ((parseSizeBytes(config.policy.memory_limit) ?? 0) < 20 * 1024 * 1024) {
    ctx.addIssue({
      code: "custom",
      path: ["policy", "memory_limit"],
      message: "must be at least 20MiB (the sandbox starts with 16 MiB)",
    });
  }
  if (config.policy.hysteresis_for > config.policy.hysteresis_of) {
    ctx.addIssue({
      code: "custom",
      path: ["policy", "hysteresis_for"],
      message: "must not be above policy.hysteresis_of",
    });
  }
  refineAcme(config, ctx);
  const secure = config.node.listen.findIndex(isSecureWebSocket);
  if (secure >= 0 && cert === "" && !config.acme.enabled) {
    ctx.addIssue({
      code: "custom",
      path: ["node", "listen", secure],
      message:
        "is a TLS WebSocket address, which needs tls.cert_file and tls.key_file (or acme.enabled)",
    });
  }
});

type ConfigBeforeRefine = {
  node: { listen: string[] };
  tls: { cert_file: string };
  acme: z.output<typeof acmeSection>;
};

function refineAcme(config: ConfigBeforeRefine, ctx: z.RefinementCtx): void {
  const { acme } = config;
  if ((acme.eab_kid === "") !== (acme.eab_hmac_key_file === "")) {
    ctx.addIssue({
      code: "custom",
      path: ["acme", acme.eab_kid === "" ? "eab_kid" : "eab_hmac_key_file"],
      message: "must be set together with acme." +
        (acme.eab_kid === "" ? "eab_hmac_key_file" : "eab_kid"),
    });
  }
  if (!acme.enabled) return;
  if (config.tls.cert_file !== "") {
    ctx.addIssue({
      code: "custom",
      path: ["acme", "enabled"],
      message: "cannot be true while tls.cert_file is set: [tls] files and [acme] are exclusive, " +
        "set one or the other",
    });
  }
  if (acme.domains.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["acme", "domains"],
      message: "must list at least one DNS name when acme.enabled is true",
    });
  }
}

/** The config as written (snake_case keys, unit strings), after defaults. */
export type ConfigFile = z.output<typeof CONFIG_SCHEMA>;
