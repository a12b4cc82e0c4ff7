/**
 * Announcing a certificate's DNS names: `/dns4/<domain>/…/tls/ws` twins of the node's
 * WebSockets-over-TLS addresses, so browsers can dial a name the certificate covers.
 *
 * @module
 */

import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";

/**
 * Adds, for each WebSockets-over-TLS address in `addrs`, its `/dns4/<domain>/tcp/<port>/tls/ws`
 * twin for every domain, so browsers (which check the certificate's name) can dial it. Used
 * as libp2p's `announceFilter` when hopd holds a certificate for those names (ACME): the
 * port is the one the listener (or the operator's announce address) really uses, even when
 * it was asked for port 0.
 *
 * @example
 * ```ts
 * import { multiaddr } from "@multiformats/multiaddr";
 * import { withDomainAddrs } from "./domain_addrs.ts";
 * withDomainAddrs([multiaddr("/ip4/192.0.2.1/tcp/443/tls/ws/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq")], ["relay.example.com"])
 *   .map(String);
 * // the ip4 address, then "/dns4/relay.example.com/tcp/443/tls/ws/p2p/12D3KooW…"
 * ```
 *
 * @param addrs The node's addresses (with `/p2p/<id>`, as libp2p hands them to the filter).
 * @param domains DNS names the node's certificate covers.
 * @returns `addrs`, then the domain addresses not already among them.
 */
export function withDomainAddrs(addrs: Multiaddr[], domains: readonly string[]): Multiaddr[] {
  const seen = new Set(addrs.map(String));
  const added: Multiaddr[] = [];
  for (const addr of addrs) {
    const parts = addr.getComponents();
    const names = parts.map((part) => part.name);
    const tcp = parts[1];
    const secureWs = (names[2] === "tls" && names[3] === "ws") || names[2] === "wss";
    if (tcp?.name !== "tcp" || !secureWs || names.slice(0, 4).includes("sni")) continue;
    const rest = names[2] === "wss" ? parts.slice(3) : parts.slice(4);
    const tail = rest.map((part) =>
      `/${part.name}${part.value === undefined ? "" : `/${part.value}`}`
    )
      .join("");
    for (const domain of domains) {
      const text = `/dns4/${domain}/tcp/${tcp.value}/tls/ws${tail}`;
      if (seen.has(text)) continue;
      seen.add(text);
      added.push(multiaddr(text));
    }
  }
  return [...addrs, ...added];
}
