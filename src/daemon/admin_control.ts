/**
 * The admin API's control surface over the running node: bans through the limiter's ban
 * list, listings from the relay and the host, drain and resume, and disconnects.
 *
 * @module
 */

import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { AdminControl, BanRequest, BanView } from "../ops/mod.ts";
import { type Ban, type BanList, banScope, type BanWidthLimits } from "../ratelimit/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { banTarget, disconnectPeer } from "./admission.ts";
import { UnavailableError } from "../errors.ts";

/** What the admin control drives. */
export interface AdminControlComponents {
  readonly libp2p: Libp2p;
  readonly relay: Relay;
  readonly bans: BanList;
  /** The widest CIDR bans allowed without force (read per ban: a reload may change them). */
  banWidth(): BanWidthLimits;
  setDraining(draining: boolean): void;
}

function parsePeer(text: string): PeerId {
  try {
    return peerIdFromString(text);
  } catch {
    throw new RangeError(`'${text}' is not a peer ID (such as 12D3KooW…)`);
  }
}

function view(ban: Ban): BanView {
  return {
    kind: ban.kind,
    target: ban.value,
    ...(ban.reason === undefined ? {} : { reason: ban.reason }),
    createdAt: new Date(ban.createdAtMs).toISOString(),
    ...(ban.expiresAtMs === undefined
      ? {}
      : { expiresAt: new Date(ban.expiresAtMs).toISOString() }),
  };
}

/**
 * Waits until the change just made is on disk: the caller is told "done" only then.
 *
 * @throws {UnavailableError} `BANS_NOT_SAVED` when bans.json could not be written.
 */
async function saved(bans: BanList, done: string): Promise<void> {
  const result = await bans.save();
  if (result.ok) return;
  throw new UnavailableError(
    "BANS_NOT_SAVED",
    `${done} but not saved, so a restart would undo it: ${result.warning}`,
  );
}

/**
 * Builds the admin control.
 *
 * @param c The node's parts.
 * @returns The control.
 */
export function adminControl(c: AdminControlComponents): AdminControl {
  return {
    bans: () => c.bans.list().map(view),
    async ban(request: BanRequest) {
      if (request.peer !== undefined) parsePeer(request.peer);
      if (request.cidr !== undefined) {
        const { tooWide } = banScope({ cidr: request.cidr }, c.banWidth());
        if (tooWide !== undefined && request.force !== true) {
          throw new RangeError(
            `Cannot ban '${request.cidr}' as ${tooWide}: send "force": true to ban it anyway`,
          );
        }
      }
      const ban = c.bans.ban({
        ...banTarget(request),
        reason: request.reason,
        ttlMs: request.ttlMs,
      });
      await saved(c.bans, `The ban on '${ban.value}' is in force`);
      return view(ban);
    },
    async unban(target: string) {
      let kind: "peer" | "cidr" = "peer";
      try {
        peerIdFromString(target);
      } catch {
        kind = "cidr";
      }
      const removed = c.bans.unban(kind, target);
      if (removed) await saved(c.bans, `The ban on '${target}' is lifted`);
      return removed;
    },
    reservations: () => c.relay.reservations() as unknown as Record<string, unknown>[],
    circuits: () => c.relay.circuits() as unknown as Record<string, unknown>[],
    peers() {
      const byPeer = new Map<string, { peer: string; connections: number; addrs: string[] }>();
      for (const connection of c.libp2p.getConnections()) {
        const peer = connection.remotePeer.toString();
        const entry = byPeer.get(peer) ?? { peer, connections: 0, addrs: [] };
        entry.connections++;
        entry.addrs.push(connection.remoteAddr.toString());
        byPeer.set(peer, entry);
      }
      return [...byPeer.values()];
    },
    drain: () => c.setDraining(true),
    resume: () => c.setDraining(false),
    disconnect: (text: string) => disconnectPeer(c.libp2p, parsePeer(text)),
  };
}
