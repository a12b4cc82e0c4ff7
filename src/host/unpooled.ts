/**
 * Long-lived bytes kept out of Node's `Buffer` pool. Under Deno, as in Node, a small
 * `Buffer.allocUnsafe` (protobuf encoding, among others) is a slice of a shared 8 KiB pool, and
 * one slice kept alive keeps the whole pool alive. A relay keeps two such slices per client for
 * as long as the client is connected: the remote peer ID (built during the Noise handshake)
 * and the client's peer store record (written when its first stream is negotiated). A heap
 * snapshot of hopd holding 3,000 reservations held 792 pinned 8 KiB pools for them, 2.1 KiB
 * per connection, to keep about 100 bytes each. These helpers copy such bytes into buffers of
 * their own.
 *
 * @module
 */

import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { MemoryDatastore } from "datastore-core/memory";
import type { Key } from "interface-datastore";

/**
 * The same peer ID, built from its string so that its bytes live in an array buffer of their
 * own.
 *
 * @param peer A peer ID.
 * @returns An equal peer ID that pins no pool.
 */
export function unpooledPeerId(peer: PeerId): PeerId {
  return peerIdFromString(peer.toString());
}

/** libp2p's default in-memory datastore (the peer store's), storing a copy of each value. */
export class UnpooledMemoryDatastore extends MemoryDatastore {
  override put(
    key: Key,
    value: Uint8Array,
    options?: { signal?: AbortSignal },
  ): ReturnType<MemoryDatastore["put"]> {
    return super.put(key, new Uint8Array(value), options);
  }
}
