/**
 * A workaround for a write per stream in js-libp2p 3.3.11: every inbound stream, once its
 * protocol is negotiated, is recorded with `peerStore.merge(remotePeer, { protocols: [p] })`
 * (`onIncomingStream` in libp2p's connection.ts). @libp2p/peer-store 12 serves each merge with a
 * new per-peer lock (a mutex, a queue and a debounce timer), a datastore read and protobuf
 * decode, the merge, a protobuf encode and a datastore write, even when the record already
 * lists the protocol and only its `updated` time changes. A relay takes a hop stream per
 * circuit from each source and opens the stop stream on the target's connection, so this is
 * paid on every circuit: 8.6% of hopd's CPU at 100 circuits/s in a profile of
 * `bench/relay_vs_peers.ts --only setup`.
 *
 * {@linkcode skipRedundantMerges} answers a merge that only names protocols the peer's record
 * already lists, written by this peer store within the refresh interval, without touching the
 * store: it returns the peer as the last write left it. What it keeps is that answer, for the
 * peers written within the last refresh interval (dropped, oldest first, as merges come). Any other write for the peer (save,
 * patch, delete, a peer record, a merge with more data) goes to the store and forgets what was
 * known, and a record is still rewritten (its `updated` time refreshed) once per refresh
 * interval, well before the peer store would expire it. Version guard: js-libp2p 3.3.11
 * (versions.ts). Upstream fix: libp2p merging a stream's protocol only when the peer's record
 * does not list it yet, or @libp2p/peer-store skipping a write that changes nothing.
 *
 * @module
 */

import type { AbortOptions, Peer, PeerData, PeerId, PeerStore } from "@libp2p/interface";
import { libp2pChecked } from "./versions.ts";

/** What is known of a peer's record since this peer store last wrote it. */
interface KnownRecord {
  /** The merge's answer (its `protocols` are the record's). */
  readonly peer: Peer;
  readonly writtenAtMs: number;
}

/** Options of {@linkcode skipRedundantMerges}. */
export interface SkipRedundantMergesInit {
  /**
   * The peer store's `maxPeerAge` (`connections.peer_ttl`): a record is rewritten at least
   * every half of it, or every {@linkcode PEER_RECORD_REFRESH_MS}, whichever is sooner.
   */
  readonly maxPeerAgeMs: number;
  /** Wall-clock time in ms. @default Date.now */
  readonly nowMs?: () => number;
  /** js-libp2p's version (the running one by default). */
  readonly version?: string;
}

/** The longest a protocols-only merge is answered without a write. */
export const PEER_RECORD_REFRESH_MS = 60_000;

/** The write methods of a peer store (the ones that must forget what is known of a peer). */
const OTHER_WRITES = ["save", "patch", "delete", "consumePeerRecord"] as const;

/**
 * Whether a merge only names protocols, all of them already in the record.
 *
 * @param data The merge's data.
 * @param known What is known of the record.
 */
function onlyKnownProtocols(data: PeerData, known: KnownRecord): boolean {
  const protocols = data.protocols;
  if (protocols === undefined) return false;
  for (const key in data) {
    if (key !== "protocols" && (data as Record<string, unknown>)[key] !== undefined) return false;
  }
  for (const protocol of protocols) if (!known.peer.protocols.includes(protocol)) return false;
  return true;
}

/**
 * Makes `peerStore.merge` skip the write when it would change nothing but the record's
 * `updated` time (see the module doc).
 *
 * @param peerStore libp2p's peer store (`libp2p.peerStore`).
 * @param init The peer store's peer age, and for tests the clock and version.
 * @returns False when the peer store is not of the expected shape or another js-libp2p runs
 *   (nothing is changed).
 */
export function skipRedundantMerges(peerStore: PeerStore, init: SkipRedundantMergesInit): boolean {
  if (!libp2pChecked(init.version)) return false;
  const store = peerStore as unknown as Record<string, unknown>;
  if (
    typeof store.merge !== "function" || OTHER_WRITES.some((m) => typeof store[m] !== "function")
  ) {
    return false;
  }
  const nowMs = init.nowMs ?? Date.now;
  const refreshMs = Math.min(PEER_RECORD_REFRESH_MS, init.maxPeerAgeMs / 2);
  const known = new Map<string, KnownRecord>();
  // Bumped by every other write: a merge that was in flight across one does not record what
  // it wrote (the other write may have come after it in the store's lock).
  let epoch = 0;
  const merge = peerStore.merge.bind(peerStore);
  peerStore.merge = async (id: PeerId, data: PeerData, options?: AbortOptions) => {
    const key = id.toString();
    const now = nowMs();
    // Entries are in write order: the stale ones are at the head.
    for (const [k, r] of known) {
      if (now - r.writtenAtMs < refreshMs) break;
      known.delete(k);
    }
    const record = known.get(key);
    if (
      record !== undefined && now - record.writtenAtMs < refreshMs &&
      onlyKnownProtocols(data, record)
    ) {
      options?.signal?.throwIfAborted();
      return record.peer;
    }
    known.delete(key);
    const startedIn = epoch;
    const peer = await merge(id, data, options);
    if (epoch !== startedIn) return peer;
    known.set(key, { peer, writtenAtMs: now });
    return peer;
  };
  for (const name of OTHER_WRITES) {
    const write = (store[name] as (...args: unknown[]) => unknown).bind(peerStore);
    store[name] = (...args: unknown[]) => {
      // consumePeerRecord names its peer inside the envelope: forget every peer then.
      const id = args[0] as PeerId | undefined;
      epoch++;
      if (name === "consumePeerRecord") known.clear();
      else if (id !== undefined) known.delete(id.toString());
      return write(...args);
    };
  }
  return true;
}
