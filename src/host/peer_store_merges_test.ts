import assert from "node:assert/strict";
import type { Libp2p, PeerStore } from "@libp2p/interface";
import { MemoryDatastore } from "datastore-core/memory";
import type { Key } from "interface-datastore";
import { loopbackNode } from "./testing.ts";
import { PEER_RECORD_REFRESH_MS, skipRedundantMerges } from "./peer_store_merges.ts";

const ECHO = "/hopd-test/echo/1.0.0";
const OTHER = "/hopd-test/other/1.0.0";

/** An in-memory datastore that counts its writes. */
class CountingDatastore extends MemoryDatastore {
  puts = 0;
  override put(key: Key, value: Uint8Array, options?: { signal?: AbortSignal }) {
    this.puts++;
    return super.put(key, value, options);
  }
}

/** A server node counting its peer store writes, and a client connected to it. */
async function pair(): Promise<
  { server: Libp2p; client: Libp2p; datastore: CountingDatastore; handled: EventTarget }
> {
  const datastore = new CountingDatastore();
  const server = await loopbackNode({ datastore });
  const client = await loopbackNode();
  // libp2p merges an inbound stream's protocol into the peer store (and awaits its write)
  // before it calls the handler: a handled stream is one whose write, if any, is done.
  const handled = new EventTarget();
  for (const protocol of [ECHO, OTHER]) {
    await server.handle(protocol, (stream) => {
      handled.dispatchEvent(new Event("stream"));
      void stream.close().catch(() => {});
    });
  }
  return { server, client, datastore, handled };
}

/**
 * Opens `n` streams from `client` to `server` for `protocol`, each negotiated and closed, and
 * waits until the server's handler was called for each of them.
 */
async function openStreams(
  { client, server, handled }: { client: Libp2p; server: Libp2p; handled: EventTarget },
  protocol: string,
  n: number,
) {
  let left = n;
  const allHandled = new Promise<void>((resolve) => {
    handled.addEventListener("stream", function onStream() {
      if (--left > 0) return;
      handled.removeEventListener("stream", onStream);
      resolve();
    });
  });
  for (let i = 0; i < n; i++) {
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, protocol);
    await stream.close();
  }
  await allHandled;
}

Deno.test("skipRedundantMerges(): libp2p's per-stream peer store write happens once per peer and protocol", async (t) => {
  await t.step("stock: every inbound stream writes the peer's record (control)", async () => {
    const nodes = await pair();
    const { server, client, datastore } = nodes;
    try {
      await openStreams(nodes, ECHO, 10);
      const afterTen = datastore.puts;
      await openStreams(nodes, ECHO, 10);
      assert.ok(datastore.puts >= afterTen + 10, `${datastore.puts - afterTen} for 10 streams`);
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  await t.step("patched: a protocol already recorded is not written again", async () => {
    const nodes = await pair();
    const { server, client, datastore } = nodes;
    try {
      assert.equal(skipRedundantMerges(server.peerStore, { maxPeerAgeMs: 3_600_000 }), true);
      await openStreams(nodes, ECHO, 10);
      const afterEcho = datastore.puts;
      await openStreams(nodes, ECHO, 10);
      assert.equal(datastore.puts, afterEcho, "10 more streams of a recorded protocol");
      // A new protocol is written, then known too.
      await openStreams(nodes, OTHER, 5);
      assert.equal(datastore.puts, afterEcho + 1);
      const peer = await server.peerStore.get(client.peerId);
      assert.deepEqual([...peer.protocols].sort(), [OTHER, ECHO].sort());
    } finally {
      await client.stop();
      await server.stop();
    }
  });
});

/** A peer store stand-in counting calls to its real methods (the patch's own rules). */
function countingStore() {
  const calls: string[] = [];
  const store = {
    merge: (_id: unknown, data: { protocols?: string[] }) => {
      calls.push("merge");
      return Promise.resolve({ id: _id, addresses: [], protocols: data.protocols ?? [] });
    },
    save: () => (calls.push("save"), Promise.resolve()),
    patch: () => (calls.push("patch"), Promise.resolve()),
    delete: () => (calls.push("delete"), Promise.resolve()),
    consumePeerRecord: () => (calls.push("consumePeerRecord"), Promise.resolve(true)),
  };
  return { store: store as unknown as PeerStore, calls };
}

Deno.test("skipRedundantMerges() writes again after the refresh interval, another write or more data", async () => {
  const peerA = { toString: () => "A" } as never;
  const peerB = { toString: () => "B" } as never;
  let now = 1_000_000;
  const { store, calls } = countingStore();
  assert.equal(skipRedundantMerges(store, { maxPeerAgeMs: 3_600_000, nowMs: () => now }), true);
  const merges = () => calls.filter((c) => c === "merge").length;
  await store.merge(peerA, { protocols: ["/p"] });
  await store.merge(peerA, { protocols: ["/p"] });
  assert.equal(merges(), 1, "the same protocol again: skipped");
  await store.merge(peerB, { protocols: ["/p"] });
  assert.equal(merges(), 2, "another peer: written");
  await store.merge(peerA, { protocols: ["/p"], metadata: { k: new Uint8Array(1) } });
  assert.equal(merges(), 3, "more than protocols: written");
  await store.merge(peerA, { protocols: ["/p"] });
  await store.delete(peerA);
  await store.merge(peerA, { protocols: ["/p"] });
  assert.equal(merges(), 4, "after a delete: written");
  now += PEER_RECORD_REFRESH_MS - 1;
  await store.merge(peerA, { protocols: ["/p"] });
  assert.equal(merges(), 4, "within the refresh interval: skipped");
  now += 1;
  await store.merge(peerA, { protocols: ["/p"] });
  assert.equal(merges(), 5, "at the refresh interval: written");
  await store.patch(peerA, {});
  await store.merge(peerA, { protocols: ["/p"] });
  assert.equal(merges(), 6, "after a patch: written");
  await store.merge(peerA, { protocols: ["/q"] });
  assert.equal(merges(), 7, "a protocol not recorded: written");
  const aborted = AbortSignal.abort();
  await assert.rejects(store.merge(peerA, { protocols: ["/q"] }, { signal: aborted }));
});

Deno.test("skipRedundantMerges() refreshes within half of a short peer age", async () => {
  const peer = { toString: () => "A" } as never;
  let now = 0;
  const { store, calls } = countingStore();
  skipRedundantMerges(store, { maxPeerAgeMs: 10_000, nowMs: () => now });
  await store.merge(peer, { protocols: ["/p"] });
  now = 5_000;
  await store.merge(peer, { protocols: ["/p"] });
  assert.equal(calls.length, 2);
});

Deno.test("skipRedundantMerges() leaves another js-libp2p's or another shape's peer store alone", () => {
  const { store } = countingStore();
  const merge = store.merge;
  assert.equal(skipRedundantMerges(store, { maxPeerAgeMs: 1, version: "3.4.0" }), false);
  assert.equal(store.merge, merge);
  assert.equal(skipRedundantMerges({ merge } as never, { maxPeerAgeMs: 1 }), false);
});
