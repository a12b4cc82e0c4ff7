/**
 * Nodes for tests on 127.0.0.1: stock js-libp2p nodes, what a plain client runs (TCP, Noise,
 * yamux; none of hopd's host code unless a test passes it in), and hopd hosts with the
 * embedded defaults ({@linkcode loopbackHost}).
 *
 * @example
 * ```ts ignore
 * import { identify } from "@libp2p/identify";
 * const node = await loopbackNode({ services: { identify: identify() } });
 * await node.dial(relayAddr);
 * await node.stop();
 * ```
 *
 * @module
 */

import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { createLibp2p, type Libp2pOptions } from "libp2p";
import type { Libp2p, ServiceMap } from "@libp2p/interface";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { loadConfig } from "../config/mod.ts";
import { createHost, type Host, type HostInit } from "./mod.ts";
import type { PubSubInit } from "./pub_sub.ts";

/**
 * Creates and starts a libp2p node listening on 127.0.0.1 (a free TCP port).
 *
 * @param options Settings that replace the defaults (transports, encrypters, services…).
 * @returns The started node.
 */
export function loopbackNode<T extends ServiceMap = ServiceMap>(
  options: Libp2pOptions<T> = {},
): Promise<Libp2p<T>> {
  return createLibp2p<T>({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...options,
  });
}

/**
 * Creates and starts a hopd host on 127.0.0.1 (a free TCP port) with the embedded default
 * config's connection and TLS settings and a new Ed25519 key.
 *
 * @param init Settings that replace those or add to them (listeners, pubsub, socket guard…).
 * @returns The started host.
 */
export async function loopbackHost(init: Partial<HostInit> = {}): Promise<Host> {
  const config = await loadConfig();
  const host = await createHost({
    node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
    connections: config.connections,
    tls: config.tls,
    privateKeyProtobuf: privateKeyToProtobuf(await generateKeyPair("Ed25519")),
    ...init,
  });
  await host.start();
  return host;
}

/**
 * Gossip settings for a test host's pubsub on `topics`: gossipsub's own mesh and gossip
 * defaults, every peer scored 0.
 *
 * @param topics The topics messages are accepted on.
 * @returns The settings, for `createHost({ pubsub })`.
 */
export function testPubSubInit(topics: readonly string[]): PubSubInit {
  return {
    topics,
    maxMessageBytes: 4_096,
    floodPublish: true,
    mesh: { degree: 6, low: 4, high: 12, outbound: 2, byScore: 4, lazy: 6 },
    gossipFactor: 0.25,
    peerScore: () => 0,
    ipColocationFactorWeight: 0,
  };
}
