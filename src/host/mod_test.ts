import assert from "node:assert/strict";
import { loopbackHost, loopbackNode, testPubSubInit } from "./testing.ts";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { type Identify, identify } from "@libp2p/identify";
import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { loadConfig } from "../config/mod.ts";
import { type GossipSub, gossipsub } from "@libp2p/gossipsub";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";
import { isLean } from "./lean_events.ts";
import { createHost, type Host, type HostPatch, PatchWarnings } from "./mod.ts";

/** A hopd host on 127.0.0.1 with the default config. */
const startHost = (identifyInbound?: (peer: string) => boolean): Promise<Host> =>
  loopbackHost(identifyInbound === undefined ? {} : { identifyInbound });

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
    // The host decides in its own 'connection:open' listener, registered before this test's:
    // once ours runs, any identify the host meant to run has been asked for (the real
    // identify, recorded on the way through).
    const service = (host.libp2p as Libp2p<{ identify: Identify }>).services.identify;
    const identifyReal = service.identify.bind(service);
    const asked: string[] = [];
    service.identify = (connection, options) => {
      asked.push(connection.remotePeer.toString());
      return identifyReal(connection, options);
    };
    const opened = new Promise<void>((resolve) =>
      host.libp2p.addEventListener("connection:open", () => resolve(), { once: true })
    );
    const clientIdentifiedHost = identified(client, hostId);
    await client.dial(host.libp2p.getMultiaddrs()[0]!);
    await opened;
    assert.deepEqual(asked, [], "the host asked to identify its client");
    await clientIdentifiedHost;
    assert.match((await agentVersion(client, hostId))!, /libp2p/);
    assert.equal(await agentVersion(host.libp2p, client.peerId), undefined);
  } finally {
    await client.stop();
    await host.stop();
  }
});

Deno.test("createHost() answers every client's identify with the same signed peer record of its addresses", async () => {
  const host = await startHost();
  const clients = [await stockNode(), await stockNode()];
  try {
    const hostId = host.libp2p.peerId;
    const records: Uint8Array[] = [];
    for (const client of clients) {
      const clientIdentifiedHost = identified(client, hostId);
      await client.dial(host.libp2p.getMultiaddrs()[0]!);
      await clientIdentifiedHost;
      const envelope = (await client.peerStore.get(hostId)).peerRecordEnvelope;
      assert.ok(envelope !== undefined, "the client got no signed peer record");
      records.push(envelope);
    }
    // Sealed per request, the records differ: each has the time it was sealed as its sequence
    // number.
    assert.deepEqual(records[1], records[0], "the host sealed a record per identify");
    const record = PeerRecord.createFromProtobuf(
      (await RecordEnvelope.openAndCertify(records[0]!, PeerRecord.DOMAIN)).payload,
    );
    assert.ok(record.peerId.equals(hostId));
    assert.deepEqual(
      record.multiaddrs.map(String),
      host.libp2p.getMultiaddrs().map((ma) => ma.decapsulateCode(421).toString()),
    );
  } finally {
    for (const client of clients) await client.stop();
    await host.stop();
  }
});

Deno.test("createHost() identifies inbound peers identifyInbound names, and outbound peers", async () => {
  const member = await stockNode();
  const stranger = await stockNode();
  const host = await startHost((peer) => peer === member.peerId.toString());
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

Deno.test("createHost() keeps a client's peer ID and record out of the Buffer pool", async () => {
  const host = await startHost();
  const client = await stockNode();
  try {
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

/**
 * A connection's parts that emit events: itself, its socket wrapper, its Noise stream (the
 * muxer's connection), its muxer and a stream (js-libp2p 3.3's private fields).
 */
function emitters(connection: Connection): Record<string, unknown> {
  const inner = connection as unknown as { maConn: unknown; muxer: { maConn: unknown } };
  return {
    connection,
    socket: inner.maConn,
    noise: inner.muxer.maConn,
    muxer: inner.muxer,
    stream: connection.streams[0],
  };
}

Deno.test("createHost() makes its connections' emitters lean, and only them: gossipsub and the nodes keep event.target and stopPropagation", async () => {
  const config = await loadConfig();
  const warned: HostPatch[] = [];
  const topic = "hopd-lean-test";
  const host = await createHost({
    node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
    connections: config.connections,
    tls: config.tls,
    privateKeyProtobuf: privateKeyToProtobuf(await generateKeyPair("Ed25519")),
    pubsub: testPubSubInit([topic]),
    patchWarnings: new PatchWarnings((patch) => warned.push(patch)),
  });
  await host.start();
  const client = await loopbackNode({
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
  });
  try {
    // The gossipsub service itself, behind the host's PubSub.
    const pubsub = (host.libp2p as Libp2p<{ pubsub: GossipSub }>).services.pubsub;
    host.pubsub!.subscribe(topic, () => "accept");
    client.services.pubsub.subscribe(topic);
    // hopd dials (outbound connections are identified, so gossipsub learns the protocol).
    const clientSubscribed = new Promise<void>((resolve) =>
      pubsub.addEventListener("subscription-change", () => {
        if (pubsub.getSubscribers(topic).length > 0) resolve();
      })
    );
    const hostSubscribed = new Promise<void>((resolve) =>
      client.services.pubsub.addEventListener("subscription-change", () => {
        if (client.services.pubsub.getSubscribers(topic).length > 0) resolve();
      })
    );
    const connection = await host.libp2p.dial(client.getMultiaddrs()[0]!);
    await Promise.all([clientSubscribed, hostSubscribed]);
    // Gossipsub's own emitter keeps main-event's semantics in hopd's process: target set,
    // stopPropagation() stops no other listener of it.
    const seen: string[] = [];
    const got = Promise.withResolvers<void>();
    pubsub.addEventListener("message", (evt) => {
      seen.push(evt.target === pubsub ? "first:target" : "first:no-target");
      evt.stopPropagation();
      // The dispatch is synchronous: by the next task the second listener ran, or never will.
      setTimeout(got.resolve, 0);
    });
    pubsub.addEventListener("message", (evt) => {
      seen.push(new TextDecoder().decode(evt.detail.data));
    });
    await client.services.pubsub.publish(topic, new TextEncoder().encode("over lean streams"));
    await got.promise;
    assert.deepEqual(seen, ["first:target", "over lean streams"]);
    // hopd's connection, its socket wrapper, Noise stream, muxer and streams (gossipsub's among
    // them) are lean.
    assert.ok(connection.streams.length > 0);
    for (const [name, emitter] of Object.entries(emitters(connection))) {
      assert.ok(emitter !== undefined, `js-libp2p's connection changed shape: no ${name}`);
      assert.equal(isLean(emitter), true, `hopd's ${name} is lean`);
    }
    // Not lean: gossipsub, the nodes, their services.
    for (const emitter of [pubsub, client.services.pubsub, host.libp2p, client]) {
      assert.equal(isLean(emitter), false);
    }
    assert.deepEqual(warned, [], "every workaround applies to js-libp2p as pinned");
  } finally {
    await client.stop();
    await host.stop();
  }
});
