/**
 * hopd's own signed peer record, sealed once per change of its addresses instead of once per
 * identify request.
 *
 * @libp2p/identify 4.1.14 answers an identify request with the signed peer record the peer
 * store holds for the node itself, and seals a new one when it holds none (`handleProtocol`).
 * js-libp2p 3.3.11 never stores one, so every answer cost an Ed25519 signature and two
 * protobuf encodes. Every client identifies its relay on each connection, so a relay paid it
 * per connection: 9% of hopd's main-thread time during an identity flood (sealing about half
 * of it) in a CPU profile of hopd alone on one core (bench/RESULTS.md, issue 15 item 9).
 *
 * {@linkcode keepSelfPeerRecord} seals a record of the addresses identify announces when the
 * node starts and whenever they change (`self:peer:update`), and stores it as the node's own
 * `peerRecordEnvelope`; identify then sends it as it is. Until the first one is stored, and
 * should a version stop reading it, identify seals its own as before. Version guard:
 * @libp2p/identify 4.1.14 and js-libp2p 3.3.11 (versions.ts). Upstream fix: libp2p keeping its
 * own signed peer record as its addresses change, as go-libp2p's host does.
 *
 * @module
 */

import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { PeerRecord, RecordEnvelope } from "@libp2p/peer-record";

/** The `/p2p` protocol code: identify announces its addresses without it. */
const CODE_P2P = 421;

/**
 * Keeps `libp2p`'s own signed peer record in its peer store, re-sealed when its addresses
 * change.
 *
 * @param libp2p The node (not started yet, or started).
 * @param privateKey The node's key.
 * @returns Resolves once the record of the current addresses is stored (for tests).
 */
export function keepSelfPeerRecord(
  libp2p: Pick<Libp2p, "peerId" | "peerStore" | "getMultiaddrs" | "addEventListener">,
  privateKey: PrivateKey,
): () => Promise<void> {
  let sealedFor: string | undefined;
  let done: Promise<void> = Promise.resolve();
  async function update(): Promise<void> {
    // What identify announces: the address manager's addresses without /p2p.
    const multiaddrs = libp2p.getMultiaddrs().map((ma) => ma.decapsulateCode(CODE_P2P));
    const key = multiaddrs.map((ma) => ma.toString()).join(" ");
    // With no addresses there is nothing to certify (and a patch cannot remove a record: the
    // last one stays, as a relay without addresses serves no one).
    if (key === sealedFor || multiaddrs.length === 0) return;
    sealedFor = key;
    const envelope = await RecordEnvelope.seal(
      new PeerRecord({ peerId: libp2p.peerId, multiaddrs }),
      privateKey,
    );
    const peerRecordEnvelope = envelope.marshal();
    // Storing it changes the node's own record, so `self:peer:update` comes back here once,
    // finds the same addresses and stops.
    await libp2p.peerStore.patch(libp2p.peerId, { peerRecordEnvelope });
  }
  const refresh = () => {
    done = done.then(update).catch(() => {
      // The next change tries again; meanwhile identify seals its own.
      sealedFor = undefined;
    });
  };
  libp2p.addEventListener("start", refresh);
  libp2p.addEventListener("self:peer:update", refresh);
  return () => done;
}
