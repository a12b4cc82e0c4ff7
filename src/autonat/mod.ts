/**
 * The AutoNAT v1 server (`/libp2p/autonat/1.0.0`): a client asks hopd to dial it back, and
 * learns from the answer whether it is reachable from the internet. The `[autonat]` section.
 *
 * Why a relay serves it: a go-libp2p node configured with hopd as its relay
 * (`EnableAutoRelayWithStaticRelays`) reserves only once its AutoNAT client has decided the
 * node is private, and that client asks AutoNAT servers, nothing else. Where hopd is the only
 * public peer such a node knows (a private network, a test net), nothing ever answers and it
 * never reserves (measured in the NAT lab: docs/INTEROP.md, "AutoNAT"). rust-libp2p's relay
 * client and DCUtR need no AutoNAT; js-libp2p keeps its own public listen address out of
 * identify until AutoNAT v1 or v2 confirms it.
 *
 * Flow: {@linkcode AutonatService.start} registers the protocol on the libp2p node →
 * `AutonatServer.handle` (autonat_server.ts) reads one DIAL, checks it (the sender's own peer ID, a
 * direct connection from a public IP, the per-peer and global rate limits), dials the sender
 * back on a new connection at the addresses it gave, moved onto the IP it came from, and
 * answers. hopd never dials an address but the requester's own IP.
 *
 * @example
 * ```ts
 * import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
 * import { MetricsRegistry } from "../metrics/mod.ts";
 * import { SYSTEM_CLOCK } from "../clock/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import { createHost } from "../host/mod.ts";
 * import { autonatService } from "./mod.ts";
 * const config = defaultConfig();
 * const host = await createHost({
 *   ...config,
 *   node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
 *   privateKeyProtobuf: privateKeyToProtobuf(await generateKeyPair("Ed25519")),
 * });
 * await host.start();
 * const autonat = autonatService(config.autonat)({
 *   libp2p: host.libp2p,
 *   registry: new MetricsRegistry(),
 *   clock: SYSTEM_CLOCK,
 *   maxTrackedPeers: config.limits.maxTrackedKeys,
 * });
 * await autonat.start(); // after the host started
 * await autonat.stop();
 * await host.stop();
 * ```
 *
 * @module
 */

import type { Libp2p } from "@libp2p/interface";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ResolvedAutonatConfig } from "../config/mod.ts";
import type { Clock } from "../clock/mod.ts";
import { AutonatServer } from "./autonat_server.ts";
import { AUTONAT_MAX_INBOUND_STREAMS, AUTONAT_PROTOCOL } from "./constants.ts";
import { AutonatMetrics } from "./metrics.ts";

export { AUTONAT_PROTOCOL } from "./constants.ts";
export type { AutonatResult } from "./metrics.ts";

/** What the running service needs from the daemon. */
export interface AutonatComponents {
  /** The host: the protocol handler is registered on it, and dial-backs go through it. */
  readonly libp2p: Pick<Libp2p, "handle" | "unhandle" | "dial">;
  /** Where the AutoNAT metrics are registered. */
  readonly registry: MetricsRegistry;
  /** Drives the rate limiters' refill. */
  readonly clock: Clock;
  /** Most peers the per-peer limiter remembers (`limits.max_tracked_keys`). */
  readonly maxTrackedPeers: number;
}

/** The AutoNAT service: the protocol handler, registered while started. */
export interface AutonatService {
  /** Registers the AutoNAT protocol handler. */
  start(): Promise<void>;
  /** Unregisters the handler; requests in progress finish. */
  stop(): Promise<void>;
}

/**
 * Builds the AutoNAT v1 server for `config` (call only when `config.enabled`).
 *
 * @param config The resolved `[autonat]` section.
 * @returns The service factory.
 */
export function autonatService(
  config: ResolvedAutonatConfig,
): (components: AutonatComponents) => AutonatService {
  return ({ libp2p, registry, clock, maxTrackedPeers }) => {
    const server = new AutonatServer({
      config,
      clock,
      maxTrackedPeers,
      metrics: new AutonatMetrics(registry),
      async dialBack(addr, signal) {
        // A new connection (force), so the answer says whether the peer can be dialed, not
        // that it is connected already; closed at once.
        const connection = await libp2p.dial(addr, { force: true, signal });
        const reached = connection.remoteAddr;
        await connection.close().catch(() => connection.abort(new Error("dial-back done")));
        return reached;
      },
    });
    return {
      async start() {
        await libp2p.handle(
          AUTONAT_PROTOCOL,
          (stream, connection) => server.handle(stream, connection),
          { maxInboundStreams: AUTONAT_MAX_INBOUND_STREAMS },
        );
      },
      async stop() {
        await libp2p.unhandle(AUTONAT_PROTOCOL);
      },
    };
  };
}
