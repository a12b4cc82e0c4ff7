/**
 * A workaround for a quadratic cost in js-libp2p 3.3.11's connection manager:
 * `getConnections()` without a peer builds its answer with `conns = conns.concat(c)` per peer,
 * copying the growing array each time, and it is called on every inbound connection (the
 * maxConnections check in `acceptIncomingConnection`) and on every connection open (the
 * pruner). With n connections held, each accept costs O(n²) element copies: at 8,000 held
 * reservations that is ~32 million per accept, and hopd's setup rate fell towards 5/s there.
 * This replaces the method on hopd's own connection manager instance with a linear one that
 * returns the same connections in the same order (bench/connection_list_bench.ts measures both).
 * Version guard: js-libp2p 3.3.11 (versions.ts). Upstream fix: `getConnections()` pushing each
 * peer's connections into one array (or `conns.push(...c)`) instead of `concat` per peer.
 *
 * @module
 */

import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { libp2pChecked } from "./versions.ts";

/** The part of js-libp2p's connection manager this touches. */
interface ConnectionManagerLike {
  getConnections(peerId?: PeerId): Connection[];
  getConnectionsMap(): {
    get(peer: PeerId): Connection[] | undefined;
    values(): Iterable<Connection[]>;
  };
}

/**
 * Lists every connection of a connection map in map order, in linear time.
 *
 * @param map Connections by peer, as js-libp2p keeps them.
 * @returns A new array.
 */
export function listConnections(map: { values(): Iterable<Connection[]> }): Connection[] {
  const out: Connection[] = [];
  for (const connections of map.values()) {
    for (const connection of connections) out.push(connection);
  }
  return out;
}

/**
 * Makes `libp2p`'s connection manager list its connections in linear time.
 *
 * @param version js-libp2p's version (the running one by default).
 * @returns False when the libp2p internals are not what this expects, or another js-libp2p
 *   runs (nothing is changed).
 */
export function linearConnectionListing(libp2p: Libp2p, version?: string): boolean {
  if (!libp2pChecked(version)) return false;
  const manager = (libp2p as unknown as { components?: { connectionManager?: unknown } })
    .components?.connectionManager as ConnectionManagerLike | undefined;
  if (
    manager === undefined || typeof manager.getConnections !== "function" ||
    typeof manager.getConnectionsMap !== "function"
  ) {
    return false;
  }
  const map = manager.getConnectionsMap();
  manager.getConnections = (peerId?: PeerId) =>
    peerId != null ? map.get(peerId) ?? [] : listConnections(map);
  return true;
}
