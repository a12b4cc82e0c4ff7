/**
 * The federation's gossip settings: the {@linkcode PubSubInit} a member's host runs gossipsub
 * with (`federationPubSub` in mod.ts hands them to the daemon, which gives them to
 * `createHost()`). Not configurable: tuned for federations of up to ~100 members by
 * bench/federation_traffic.ts.
 *
 * @module
 */

import type { PubSubInit } from "../host/mod.ts";
import type { ResolvedFederationConfig } from "./mod.ts";
import { MAX_REPORT_BYTES, NON_MEMBER_APP_SCORE } from "./constants.ts";

/**
 * Gossip settings for a federation: only the federation topic, flood publish over a tiny mesh
 * and no gossip (see below), reports capped in size, non-members scored below the publish
 * threshold (kept out of the mesh, sent nothing) but above the graylist (what they publish
 * still reaches the validator, which rejects and counts it), and no IP colocation penalty.
 * The host adds what every hopd pubsub is: StrictSign, publishing with no peer yet, no
 * floodsub fallback, no peer exchange, no delivery of our own reports.
 *
 * @param config The federation config.
 * @param self Our peer ID.
 * @returns The settings, for `createHost({ pubsub })`.
 */
export function pubSubSettings(config: ResolvedFederationConfig, self: string): PubSubInit {
  const members = new Set([...config.members, self]);
  return {
    topics: [config.topic],
    floodPublish: true,
    // Every member dials every member it hears of, and floodPublish sends each report to all
    // of them at once (one hop: drains propagate in milliseconds). The mesh is then only the
    // path by which a new member hears of the others before it has dialed them, so it is
    // kept tiny: each forwarded copy is a duplicate once everyone is connected. No gossip
    // (IHAVE) either: a lost report is replaced by the next one an interval later, and IHAVE
    // lists of ~100 message IDs to a quarter of the peers each second would outweigh the
    // reports themselves (bench/federation_traffic.ts).
    mesh: { degree: 2, low: 1, high: 3, outbound: 1, byScore: 1, lazy: 0 },
    gossipFactor: 0,
    maxMessageBytes: MAX_REPORT_BYTES,
    peerScore: (peer) => members.has(peer) ? 0 : NON_MEMBER_APP_SCORE,
    // Members are allowlisted keys, so the Sybil defence of scoring peers down for sharing
    // an IP would only punish members that do (relays behind one NAT, several per host):
    // past 10 on one IP their messages were ignored.
    ipColocationFactorWeight: 0,
  };
}
