/**
 * The libp2p host: TCP and WebSockets, Noise, Yamux, identify and ping, with the
 * connection manager sized for a relay and a bounded peer store. Peer bytes enter hopd
 * here; the relay mounts its protocols on {@linkcode Host.libp2p}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
 * import { defaultConfig } from "../config/mod.ts";
 * import { createHost } from "./mod.ts";
 * const { connections, tls } = defaultConfig();
 * const host = await createHost({
 *   node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
 *   connections,
 *   tls,
 *   privateKeyProtobuf: privateKeyToProtobuf(await generateKeyPair("Ed25519")),
 * });
 * await host.start();
 * const [addr] = host.libp2p.getMultiaddrs().map(String);
 * assert.match(addr!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
 * await host.stop();
 * ```
 *
 * @module
 */

import { coalescingTcp } from "./coalesce_writes.ts";
import { linearConnectionListing } from "./connection_list.ts";
import { installLeanEvents, leanEvents } from "./lean_events.ts";
import { PatchWarnings } from "./patch_warnings.ts";
import { probeConnectionPatches } from "./patch_probe.ts";
import { unnegotiatedStreamsSupported } from "./pipelined_stream.ts";
import { ownAddrsConfirmed } from "./own_addrs.ts";
import { skipRedundantMerges } from "./peer_store_merges.ts";
import { UnpooledMemoryDatastore } from "./unpooled.ts";
import { libp2pLogger } from "./quiet_logger.ts";
import type { GossipsubService } from "./gossipsub_pub_sub.ts";
import type { PubSub, PubSubInit } from "./pub_sub.ts";
import { type Identify, identify } from "@libp2p/identify";
import { privateKeyFromProtobuf } from "@libp2p/crypto/keys";
import type { Libp2p, Transport } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { MultiaddrLike } from "../ip/mod.ts";
import { ping } from "@libp2p/ping";
import { webSockets } from "@libp2p/websockets";
import { listenFailure } from "./listen_failure.ts";
import { createLibp2p } from "libp2p";
import type {
  ResolvedConnectionsConfig,
  ResolvedNodeConfig,
  ResolvedTlsConfig,
} from "../config/mod.ts";
import { relayNoise } from "./noise_crypto.ts";
import { cappedYamux } from "./yamux_frames.ts";
import { certificateRenewer, type LoadedCertificate, readCertificate } from "./tls_certificate.ts";
import { withDomainAddrs } from "./domain_addrs.ts";
import { keepSelfPeerRecord } from "./self_peer_record.ts";
import { guardedTransport, type InboundSocketGuard } from "./guarded_listeners.ts";

export type { CertificateSource, LoadedCertificate } from "./tls_certificate.ts";
export { parseCertificate, readCertificate } from "./tls_certificate.ts";
export type { InboundSocketGuard } from "./guarded_listeners.ts";
export { type HostPatch, PatchWarnings } from "./patch_warnings.ts";
export type { PubSub, PubSubInit, PubSubValidator, PubSubVerdict } from "./pub_sub.ts";

/** Largest yamux frame payload: Noise's 65,519-byte plaintext limit minus yamux's header. */
const YAMUX_MAX_MESSAGE_BYTES = 65_519 - 12;

/** What the host needs: the node and connection config, and the key. */
export interface HostInit {
  /** `node.listen` and `node.announce`. */
  readonly node: Pick<ResolvedNodeConfig, "listen" | "announce">;
  /** `[connections]`: limits and timeouts of the connection manager and the listeners. */
  readonly connections: ResolvedConnectionsConfig;
  /** `[tls]`: the certificate files for WebSockets over TLS, if any. */
  readonly tls: ResolvedTlsConfig;
  /**
   * The certificate to serve on WebSockets over TLS when it does not come from `[tls]` files
   * (ACME); later ones arrive through {@linkcode Host.useCertificate}. A /tls/ws listener
   * without any refuses TLS handshakes until one arrives.
   */
  readonly certificate?: LoadedCertificate;
  /** DNS names the WebSockets-over-TLS addresses are also announced under (`/dns4/…/tls/ws`). */
  readonly announceDomains?: readonly string[];
  /** The node's identity key, as libp2p protobuf bytes (src/identity's `privateKeyProtobuf`). */
  readonly privateKeyProtobuf: Uint8Array;
  /** Asked for every inbound connection before its handshake; true refuses it. */
  readonly refuseInbound?: (remoteAddr: MultiaddrLike) => boolean;
  /**
   * Asked for every inbound connection once the handshake names the peer (its peer ID's text);
   * true refuses it.
   */
  readonly refuseInboundPeer?: (peer: string, remoteAddr: MultiaddrLike) => boolean;
  /**
   * Asked for every inbound connection once it is open, with the peer ID's text; true runs
   * identify on it. Outbound connections are always identified. Absent = no inbound connection
   * is identified.
   */
  readonly identifyInbound?: (peer: string) => boolean;
  /**
   * Runs gossipsub with these settings (the federation's: src/federation's
   * `federationPubSub`) and gives it as {@linkcode Host.pubsub}; absent = no pubsub at all,
   * and gossipsub's code is never loaded.
   */
  readonly pubsub?: PubSubInit;
  /**
   * Guards the TCP and WebSocket listeners' sockets (src/sockets) from accept until the
   * connection is open; absent = libp2p's own handling only.
   */
  readonly socketGuard?: InboundSocketGuard;
  /**
   * Where this host says which of src/host/'s workarounds do not apply (one warning each);
   * absent = a new one logging to `["hopd", "host"]`.
   */
  readonly patchWarnings?: PatchWarnings;
}

/** Transport label of a connection, as used in metrics. */
export type TransportLabel = "tcp" | "ws" | "wss" | "relay" | "other";

/** The running libp2p host. */
export interface Host {
  /** The libp2p node. */
  readonly libp2p: Libp2p;
  /** The pubsub (gossipsub), when {@linkcode HostInit.pubsub} was given. */
  readonly pubsub?: PubSub;
  /**
   * Pings a connected peer (or dials it) with libp2p ping.
   *
   * @param peer The peer ID's text (`12D3KooW…`).
   * @param signal Aborts the ping.
   * @returns The round-trip time in ms.
   * @throws {Error} When `peer` is not a peer ID, or the ping fails.
   */
  ping(peer: string, signal?: AbortSignal): Promise<number>;
  /** The TLS certificate in use for WebSockets over TLS, if configured. */
  certificate(): LoadedCertificate | undefined;
  /**
   * Serves `certificate` on WebSockets over TLS from now on: new connections get it, open
   * ones keep theirs. The caller read and checked it (a SIGHUP reads `[tls]`'s files with
   * {@linkcode readCertificate} before it applies anything).
   */
  useCertificate(certificate: LoadedCertificate): void;
  /** Starts libp2p: opens the listeners. */
  start(): Promise<void>;
  /** Stops libp2p: closes the listeners and every connection. */
  stop(): Promise<void>;
}

/**
 * Names the transport a connection came over from its remote multiaddr.
 *
 * @param connection The connection.
 * @returns Its transport label.
 */
export function transportOf(connection: { readonly remoteAddr: MultiaddrLike }): TransportLabel {
  const names = connection.remoteAddr.getComponents().map((component) => component.name);
  if (names.includes("p2p-circuit")) return "relay";
  if (names.includes("wss") || (names.includes("tls") && names.includes("ws"))) return "wss";
  if (names.includes("ws")) return "ws";
  if (names.includes("tcp")) return "tcp";
  return "other";
}

/**
 * Runs identify on the connections whose answer hopd uses: every outbound one (hopd dials
 * federation members and targets it was asked to reach) and the inbound ones `identifyInbound`
 * names (federation members: gossipsub learns a peer's protocols only from identify).
 *
 * A relay's clients are not identified. Their answer (protocols, addresses, a signed peer
 * record) is never read by hopd, and asking for it costs a stream, a signature check and a peer
 * store record per connection. Clients still identify hopd: the handler always answers.
 *
 * @param libp2p The node (identify registered with `runOnConnectionOpen: false`).
 * @param identifyInbound Whether to identify an inbound connection's peer.
 */
function identifyWhenNeeded(
  libp2p: Libp2p<{ identify: Identify }>,
  identifyInbound: (peer: string) => boolean,
): void {
  libp2p.addEventListener("connection:open", ({ detail: connection }) => {
    const inbound = connection.direction === "inbound";
    if (inbound && !identifyInbound(connection.remotePeer.toString())) return;
    // A failure is libp2p's to log; the peer stays unidentified, as with libp2p's own run.
    libp2p.services.identify.identify(connection).catch(() => {});
  });
}

/**
 * Builds (but does not start) the libp2p host.
 *
 * @param init Config, key and the inbound gate.
 * @returns The host.
 * @throws {import("../errors.ts").ConfigError} When the TLS files cannot be loaded.
 * @throws {Error} When `privateKeyProtobuf` is not a libp2p private key.
 */
export async function createHost(init: HostInit): Promise<Host> {
  const { connections, tls } = init;
  const privateKey = privateKeyFromProtobuf(init.privateKeyProtobuf);
  let certificate = tls.certFile === undefined
    ? init.certificate
    : await readCertificate(tls.certFile, tls.keyFile!);
  const domains = init.announceDomains ?? [];
  const refuseInbound = init.refuseInbound ?? (() => false);
  const refuseInboundPeer = init.refuseInboundPeer ?? (() => false);
  const logger = libp2pLogger(Deno.env.toObject());
  const { socketGuard } = init;
  const warnings = init.patchWarnings ?? new PatchWarnings();
  const guarded = <C>(factory: (components: C) => Transport) =>
    socketGuard === undefined ? factory : guardedTransport(factory, socketGuard, warnings);
  if (!installLeanEvents()) warnings.notApplied("lean_events");
  if (!unnegotiatedStreamsSupported()) warnings.notApplied("pipelined_stream");
  const encrypter = relayNoise({}, warnings);
  // A yamux frame is a 12-byte header plus its payload; sized so header + payload fill one
  // Noise message (65,519 bytes of plaintext), and far below the 1 MiB rust-libp2p accepts
  // (@libp2p/yamux itself ignores maxMessageSize: see yamux_frames.ts).
  const muxer = cappedYamux({ maxMessageSize: YAMUX_MAX_MESSAGE_BYTES }, warnings);
  // The per-connection workarounds, tried now on a connection in memory: one that does not
  // apply is said at start.
  await probeConnectionPatches(
    { encrypter, muxer, maxFrameBytes: YAMUX_MAX_MESSAGE_BYTES },
    warnings,
  ).catch(() => warnings.notApplied("connection_probe"));
  // Only for a pubsub: a node without one never loads gossipsub's code.
  const gossip = init.pubsub === undefined ? undefined : await import("./gossipsub_pub_sub.ts");
  const libp2p = await createLibp2p({
    start: false,
    privateKey,
    ...(logger === undefined ? {} : { logger }),
    addresses: {
      listen: [...init.node.listen],
      announce: [...init.node.announce],
      ...(domains.length === 0
        ? {}
        : { announceFilter: (addrs) => withDomainAddrs(addrs, domains) }),
    },
    transports: [
      guarded(
        coalescingTcp(
          { inboundSocketInactivityTimeout: 0, outboundSocketInactivityTimeout: 0 },
          warnings,
        ),
      ),
      guarded(webSockets(
        certificate === undefined ? {} : {
          https: { cert: certificate.cert, key: certificate.key },
        },
      )),
    ],
    connectionEncrypters: [encrypter],
    streamMuxers: [muxer],
    connectionGater: {
      denyInboundConnection: (maConn) => refuseInbound(maConn.remoteAddr),
      denyInboundEncryptedConnection: (peer, maConn) =>
        refuseInboundPeer(peer.toString(), maConn.remoteAddr),
    },
    // libp2p's connection monitor opens a ping stream on every connection at once every 10 s
    // and aborts the connection if it is not answered within 5 s. On a relay holding thousands
    // of connections that burst (N streams in one tick) saturates the event loop, the pings
    // time out on both sides and thousands of connections (and reservations) are aborted in
    // one step. Dead peers are still found: a process that exits closes its sockets, yamux
    // sends a keep-alive ping every 30 s (whose unacknowledged bytes end a half-open TCP
    // connection), and reservations expire.
    connectionMonitor: { enabled: false },
    connectionManager: {
      maxConnections: connections.maxConnections,
      // The socket guard bounds pending connections per IP, per subnet and in total and sheds
      // the oldest of the most-represented source; libp2p's bound (refusing the newest, from
      // anyone) stays above it so that it never bites first.
      maxIncomingPendingConnections: socketGuard === undefined
        ? connections.maxPendingInbound
        : connections.maxPendingInbound * 2,
      // js-libp2p throttles inbound connections per IP (5/s) by default; 0 turns that off.
      inboundConnectionThreshold: connections.inboundPerIpPerSecond === 0
        ? Number.MAX_SAFE_INTEGER
        : connections.inboundPerIpPerSecond,
      dialTimeout: connections.dialTimeoutMs,
      inboundUpgradeTimeout: connections.inboundUpgradeTimeoutMs,
    },
    datastore: new UnpooledMemoryDatastore(),
    peerStore: {
      maxAddressAge: connections.peerAddressTtlMs,
      maxPeerAge: connections.peerTtlMs,
    },
    services: {
      // Identified by the listener below, not on every connection (see identifyWhenNeeded).
      identify: identify({ runOnConnectionOpen: false }),
      ping: ping(),
      certificates: certificateRenewer(),
      // Listen addresses on a public IP are hopd's public addresses (see own_addrs.ts).
      ownAddrs: ownAddrsConfirmed(),
      // Typed as always present (libp2p types its services from this map), but only added
      // when given: libp2p calls every factory in the map.
      ...(gossip === undefined ? {} : { pubsub: gossip.gossipsubService(init.pubsub!) }) as {
        pubsub: GossipsubService;
      },
    },
  });
  identifyWhenNeeded(libp2p, init.identifyInbound ?? (() => false));
  // Identify answers with this record instead of sealing one per request.
  keepSelfPeerRecord(libp2p, privateKey);
  // The connection's own listeners from here on are lean too (its socket wrapper, Noise
  // stream, muxer and streams are marked as they are made: noise_crypto.ts, yamux_frames.ts).
  libp2p.addEventListener("connection:open", ({ detail: connection }) => {
    if (!leanEvents(connection)) warnings.notApplied("lean_events");
  });
  if (!libp2p.services.ownAddrs.active) warnings.notApplied("own_addrs");
  if (socketGuard !== undefined) {
    libp2p.addEventListener("connection:open", ({ detail: connection }) => {
      if (connection.direction !== "inbound") return;
      const [ip, tcp] = connection.remoteAddr.getComponents();
      socketGuard.established(ip?.value, tcp?.name === "tcp" ? Number(tcp.value) : undefined);
    });
  }
  if (!linearConnectionListing(libp2p)) warnings.notApplied("connection_list");
  if (!skipRedundantMerges(libp2p.peerStore, { maxPeerAgeMs: connections.peerTtlMs })) {
    warnings.notApplied("peer_store_merges");
  }
  return {
    libp2p,
    ...(gossip === undefined ? {} : { pubsub: new gossip.GossipsubPubSub(libp2p.services.pubsub) }),
    ping: (peer, signal) =>
      libp2p.services.ping.ping(peerIdFromString(peer), signal === undefined ? {} : { signal }),
    certificate: () => certificate,
    useCertificate(next) {
      libp2p.services.certificates.renew(next);
      certificate = next;
    },
    start: async () => {
      try {
        await libp2p.start();
      } catch (error) {
        // Listeners that did open are closed again: nothing half-started stays behind.
        await Promise.resolve(libp2p.stop()).catch(() => {});
        throw listenFailure(error) ?? error;
      }
    },
    stop: async () => await libp2p.stop(),
  };
}
