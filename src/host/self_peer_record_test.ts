import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, PeerUpdate } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { keepSelfPeerRecord } from "./self_peer_record.ts";

type Node = Parameters<typeof keepSelfPeerRecord>[0];

/**
 * The parts of a node keepSelfPeerRecord uses: addresses the test sets, a peer store that
 * keeps the last patch, and events the test fires (a real node's are covered by mod_test.ts).
 */
async function node() {
  const privateKey = await generateKeyPair("Ed25519");
  const peerId = peerIdFromPrivateKey(privateKey);
  let addrs: Multiaddr[] = [];
  const patches: Uint8Array[] = [];
  const listeners = new Map<string, (() => void)[]>();
  const fake = {
    peerId,
    getMultiaddrs: () => addrs.map((ma) => ma.encapsulate(`/p2p/${peerId}`)),
    peerStore: {
      patch: (_id: unknown, data: { peerRecordEnvelope?: Uint8Array }) => {
        if (data.peerRecordEnvelope !== undefined) patches.push(data.peerRecordEnvelope);
        return Promise.resolve({} as unknown as PeerUpdate["peer"]);
      },
    },
    addEventListener: (type: string, listener: () => void) => {
      listeners.set(type, [...(listeners.get(type) ?? []), listener]);
    },
  } as unknown as Node & Pick<Libp2p, "peerId">;
  return {
    fake,
    privateKey,
    patches,
    setAddrs: (next: string[]) => (addrs = next.map((a) => multiaddr(a))),
    fire: (type: string) => listeners.get(type)?.forEach((listener) => listener()),
  };
}

async function addrsOf(envelope: Uint8Array): Promise<string[]> {
  const opened = await RecordEnvelope.openAndCertify(envelope, PeerRecord.DOMAIN);
  return PeerRecord.createFromProtobuf(opened.payload).multiaddrs.map(String);
}

Deno.test("keepSelfPeerRecord() seals a record at start and again only when the addresses change", async () => {
  const n = await node();
  const stored = keepSelfPeerRecord(n.fake, n.privateKey);
  n.setAddrs(["/ip4/127.0.0.1/tcp/4001"]);
  n.fire("start");
  await stored();
  assert.equal(n.patches.length, 1);
  assert.deepEqual(await addrsOf(n.patches[0]!), ["/ip4/127.0.0.1/tcp/4001"]);
  // Its own patch comes back as a self update: the addresses are the same, nothing is sealed.
  n.fire("self:peer:update");
  await stored();
  assert.equal(n.patches.length, 1);
  n.setAddrs(["/ip4/127.0.0.1/tcp/4001", "/ip4/203.0.113.7/tcp/4001"]);
  n.fire("self:peer:update");
  await stored();
  assert.equal(n.patches.length, 2);
  assert.deepEqual(await addrsOf(n.patches[1]!), [
    "/ip4/127.0.0.1/tcp/4001",
    "/ip4/203.0.113.7/tcp/4001",
  ]);
});

Deno.test("keepSelfPeerRecord() stores nothing while the node has no addresses", async () => {
  const n = await node();
  const stored = keepSelfPeerRecord(n.fake, n.privateKey);
  n.fire("start");
  await stored();
  assert.equal(n.patches.length, 0);
});
