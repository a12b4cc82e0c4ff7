import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { Key } from "interface-datastore";
import { UnpooledMemoryDatastore, unpooledPeerId } from "./unpooled.ts";

Deno.test("unpooledPeerId() gives an equal peer ID whose bytes own their buffer", async () => {
  const peer = peerIdFromPublicKey((await generateKeyPair("Ed25519")).publicKey);
  const pooled = peer.toMultihash().digest;
  // The case the helper exists for: protobuf encoding slices the 8 KiB Buffer pool.
  assert.ok(pooled.buffer.byteLength > pooled.byteLength * 10);
  const copy = unpooledPeerId(peer);
  assert.ok(copy.equals(peer));
  assert.equal(copy.toString(), peer.toString());
  const multihash = copy.toMultihash();
  assert.ok(multihash.digest.buffer.byteLength <= multihash.bytes.byteLength);
  assert.deepEqual(copy.publicKey?.raw, peer.publicKey?.raw);
});

Deno.test("UnpooledMemoryDatastore stores a copy of each value in a buffer of its own", async () => {
  const store = new UnpooledMemoryDatastore();
  const value = Buffer.from("\x01\x02\x03", "latin1"); // a slice of the Buffer pool
  assert.ok(value.buffer.byteLength > 3);
  const key = new Key("/peers/a");
  await store.put(key, value);
  const stored = await store.get(key);
  assert.deepEqual([...stored], [1, 2, 3]);
  assert.equal(stored.buffer.byteLength, 3);
  value[0] = 9; // the caller's buffer is not the stored one
  assert.equal((await store.get(key))[0], 1);
});
