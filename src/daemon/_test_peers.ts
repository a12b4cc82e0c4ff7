/**
 * Test support for the daemon's glue tests: peer IDs, a limiter built from hopd's shipped
 * defaults (with overrides), fake connections, and the relay's byte counter as the load
 * sampler and the policy snapshot read it (never imported by the daemon).
 *
 * @module
 */

import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { Connection, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Counter, MetricsRegistry } from "../metrics/mod.ts";
import { loadConfig, type RawConfig } from "../config/mod.ts";
import { BanList, createLimiter, type Limiter, limiterConfigFrom } from "../ratelimit/mod.ts";
import { type Clock, ManualClock } from "../clock/mod.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import { buildComponents, type Components } from "./components.ts";

/** A fresh peer ID. */
export async function newPeer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
}

/** A limiter on hopd's defaults with `overrides` (config file form), and its ban list. */
export async function testLimiter(
  overrides: RawConfig = {},
): Promise<{ limiter: Limiter; bans: BanList; clock: ManualClock }> {
  const clock = new ManualClock(1_000_000);
  const bans = new BanList({ clock });
  const config = await loadConfig({ overrides });
  return { limiter: createLimiter(limiterConfigFrom(config), { clock, bans }), bans, clock };
}

/** A connection as far as the daemon's glue reads it; `closed` tells whether it was closed. */
export function fakeConnection(
  peer: PeerId,
  addr: string,
  direction: "inbound" | "outbound" = "inbound",
): Connection & { closed: boolean } {
  const connection = {
    remotePeer: peer,
    remoteAddr: multiaddr(addr),
    direction,
    closed: false,
    close() {
      connection.closed = true;
      return Promise.resolve();
    },
    abort() {
      connection.closed = true;
    },
  };
  return connection as unknown as Connection & { closed: boolean };
}

/** A libp2p host as far as the daemon's glue reads it: its connections, and hang-ups. */
export function fakeLibp2p(connections: (Connection & { closed: boolean })[]) {
  const open = () => connections.filter((c) => !c.closed);
  return {
    getConnections: (peer?: PeerId) =>
      peer === undefined ? open() : open().filter((c) => c.remotePeer.equals(peer)),
    hangUp(peer: PeerId) {
      for (const c of open()) if (c.remotePeer.equals(peer)) c.closed = true;
      return Promise.resolve();
    },
  };
}

/** `hopd_relayed_bytes_total{direction}` on `registry`, as the relay registers it. */
export function relayedBytesCounter(registry: MetricsRegistry): Counter<"direction"> {
  return registry.counter({
    name: "hopd_relayed_bytes_total",
    help: "test",
    labelNames: ["direction"] as const,
  });
}

/**
 * Builds every component from `config` with a fresh Ed25519 identity, no admin token and a
 * restart request that does nothing (nothing is started).
 *
 * @param options.identityDir Where the identity would live (only its path is recorded).
 */
export async function buildTestComponents(
  config: ResolvedConfig,
  options: { identityDir?: string; clock?: Clock } = {},
): Promise<Components> {
  const privateKey = await generateKeyPair("Ed25519");
  return await buildComponents({
    config,
    identity: {
      privateKeyProtobuf: privateKeyToProtobuf(privateKey),
      peerId: peerIdFromPrivateKey(privateKey).toString(),
      path: options.identityDir === undefined
        ? "identity.key"
        : `${options.identityDir}/identity.key`,
      created: options.identityDir !== undefined,
      looseMode: false,
    },
    adminToken: undefined,
    requestRestart: () => {},
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
}
