import assert from "node:assert/strict";
import { loopbackNode } from "./testing.ts";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { loadConfig } from "../config/mod.ts";
import { TypedEventEmitter } from "main-event";
import { PATCHED } from "./lean_events.ts";
import { createHost, type Host } from "./mod.ts";

/** A hopd host on 127.0.0.1 with the default config. */
async function startHost(identifyInbound?: (peer: PeerId) => boolean): Promise<Host> {
  const config = await loadConfig();
  const host = await createHost({
    node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
    connections: config.connections,
    tls: config.tls,
    privateKey: await generateKeyPair("Ed25519"),
    ...(identifyInbound === undefined ? {} : { identifyInbound }),
  });
  await host.start();
  return host;
}

/** A stock js-libp2p node with identify, as a relay client runs. */
const stockNode = () => loopbackNode({ services: { identify: identify() } });

/** Resolves when `node` has identified `peer`. */
function identified(node: Libp2p, peer: PeerId): Promise<void> {
  return new Promise((resolve) => {
    const listener = (evt: CustomEvent<{ peerId: PeerId }>) => {
      if (!evt.detail.peerId.equals(peer)) return;
      node.removeEventListener("peer:identify", listener);
      resolve();
    };
    node.addEventListener("peer:identify", listener);
  });
}

/**
 * The agent version `node` learnt for `peer`: only identify stores one (libp2p records a
 * protocol for every stream a peer opens, so protocols alone do not tell).
 */
async function agentVersion(node: Libp2p, peer: PeerId): Promise<string | undefined> {
  try {
    const value = (await node.peerStore.get(peer)).metadata.get("AgentVersion");
    return value === undefined ? undefined : new TextDecoder().decode(value);
  } catch (err) {
    if ((err as Error).name === "NotFoundError") return undefined;
    throw err;
  }
}

Deno.test("createHost() answers a client's identify but does not identify the client", async () => {
  const host = await startHost();
  const client = await stockNode();
  try {
    const hostId = host.libp2p.peerId;
    const clientIdentifiedHost = identified(client, hostId);
    await client.dial(host.libp2p.getMultiaddrs()[0]!);
    await clientIdentifiedHost;
    assert.match((await agentVersion(client, hostId))!, /libp2p/);
    // Time for an identify the host might have started alongside the client's (milliseconds
    // on loopback) to land in its peer store.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await agentVersion(host.libp2p, client.peerId), undefined);
  } finally {
    await client.stop();
    await host.stop();
  }
});

Deno.test("createHost() identifies inbound peers identifyInbound names, and outbound peers", async () => {
  const member = await stockNode();
  const stranger = await stockNode();
  const host = await startHost((peer) => peer.equals(member.peerId));
  try {
    // Inbound from a named peer (a federation member): identified.
    const memberIdentified = identified(host.libp2p, member.peerId);
    await member.dial(host.libp2p.getMultiaddrs()[0]!);
    await memberIdentified;
    assert.match((await agentVersion(host.libp2p, member.peerId))!, /libp2p/);
    // Outbound to a peer not named: identified too (hopd dialed it for a reason).
    const strangerIdentified = identified(host.libp2p, stranger.peerId);
    await host.libp2p.dial(stranger.getMultiaddrs()[0]!);
    await strangerIdentified;
    assert.match((await agentVersion(host.libp2p, stranger.peerId))!, /libp2p/);
  } finally {
    await Promise.all([member.stop(), stranger.stop()]);
    await host.stop();
  }
});

Deno.test("createHost() patches libp2p's event emitters and keeps a client's peer ID and record out of the Buffer pool", async () => {
  const host = await startHost();
  const client = await stockNode();
  try {
    assert.equal(
      (TypedEventEmitter.prototype as unknown as Record<symbol, unknown>)[PATCHED],
      true,
    );
    const opened = new Promise<Connection>((resolve) =>
      host.libp2p.addEventListener("connection:open", (evt) => resolve(evt.detail))
    );
    const clientIdentifiedHost = identified(client, host.libp2p.peerId);
    await client.dial(host.libp2p.getMultiaddrs()[0]!);
    const multihash = (await opened).remotePeer.toMultihash();
    assert.ok(multihash.digest.buffer.byteLength <= multihash.bytes.byteLength);
    // The client's identify stream makes the host record the protocol in its peer store.
    await clientIdentifiedHost;
    const datastore = (host.libp2p as unknown as {
      components: { datastore: { data: Map<string, Uint8Array> } };
    }).components.datastore;
    assert.ok(datastore.data.size > 0);
    for (const value of datastore.data.values()) {
      assert.equal(value.buffer.byteLength, value.byteLength);
    }
  } finally {
    await client.stop();
    await host.stop();
  }
});
