// Stock js-libp2p clients (the same modules as tests/interop/relay_echo_client.mjs) with a
// chosen identity, for tests that need one peer to come back: banned, then unbanned.
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { createLibp2p } from "libp2p";
// @ts-types="../interop/relay_echo_client.d.ts"
import { waitForCircuitAddr } from "../interop/relay_echo_client.mjs";

/** A fresh Ed25519 identity and its peer ID text. */
export async function newIdentity(): Promise<{ privateKey: PrivateKey; peerId: string }> {
  const privateKey = await generateKeyPair("Ed25519");
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() };
}

/**
 * Starts a stock client that connects to `relayAddr` (TCP or WebSockets) and reserves a slot
 * while it starts.
 *
 * @param relayAddr hopd's multiaddr (with /p2p/<id>).
 * @param privateKey Identity to use; a fresh one by default.
 * @returns The running node, or undefined when the connection or the reservation was refused
 * (the stock transport then fails the start and the node stops itself).
 */
export async function reserveOn(
  relayAddr: string,
  privateKey?: PrivateKey,
): Promise<Libp2p | undefined> {
  try {
    return await createLibp2p({
      ...(privateKey === undefined ? {} : { privateKey }),
      addresses: { listen: [`${relayAddr}/p2p-circuit`] },
      transports: [tcp(), webSockets(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      connectionGater: { denyDialMultiaddr: () => false },
    });
  } catch {
    return undefined;
  }
}

/**
 * Whether a client (fresh, or with `privateKey`) gets a reservation on `relayAddr`; the
 * client is stopped either way.
 */
export async function canReserve(relayAddr: string, privateKey?: PrivateKey): Promise<boolean> {
  const node = await reserveOn(relayAddr, privateKey);
  if (node === undefined) return false;
  try {
    await waitForCircuitAddr(node, 2_000);
    return true;
  } catch {
    return false;
  } finally {
    await node.stop();
  }
}

/** Whether `node` has an open connection to the peer `peerId`. */
export function isConnectedTo(node: Libp2p, peerId: string): boolean {
  return node.getConnections().some((c) => c.remotePeer.toString() === peerId);
}

/**
 * Resolves true when `node` has no connection left to `peerId` (its `peer:disconnect` event),
 * false when `timeoutMs` pass first: a bound on a failure, not a wait.
 */
export function disconnectedFrom(
  node: Libp2p,
  peerId: string,
  timeoutMs = 10_000,
): Promise<boolean> {
  if (!isConnectedTo(node, peerId)) return Promise.resolve(true);
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const onDisconnect = (event: CustomEvent<{ toString(): string }>) => {
    if (event.detail.toString() === peerId) finish(true);
  };
  const finish = (gone: boolean) => {
    clearTimeout(timer);
    node.removeEventListener("peer:disconnect", onDisconnect);
    resolve(gone);
  };
  const timer = setTimeout(() => finish(false), timeoutMs);
  node.addEventListener("peer:disconnect", onDisconnect);
  return promise;
}
