/**
 * The accounting keys of a peer's address: its IP and its subnet, both as canonical text
 * (`"192.0.2.7"`, `"192.0.2.0/24"`; IPv4-mapped IPv6 counts as IPv4), parsed by the one IP
 * parser in src/ip. Addresses with no IP (memory, unix) are their own IP and subnet.
 *
 * @module
 */

import type { Multiaddr } from "@multiformats/multiaddr";
import { canonicalIp, ipOf, subnetKey } from "../ip/mod.ts";

/** Where a peer connects from, as strings usable as map keys (and shown in listings). */
export interface AddrKeys {
  readonly ip: string;
  readonly subnet: string;
}

/**
 * Computes the IP and subnet keys of a connection's remote address.
 *
 * @param addr The remote multiaddr.
 * @param prefixV4 IPv4 subnet prefix length (0..32).
 * @param prefixV6 IPv6 subnet prefix length (0..128).
 * @returns The keys.
 */
export function addrKeys(addr: Multiaddr, prefixV4: number, prefixV6: number): AddrKeys {
  const text = ipOf(addr);
  const ip = text === undefined ? undefined : canonicalIp(text);
  if (ip === undefined) {
    const opaque = text ?? addr.toString();
    return { ip: opaque, subnet: opaque };
  }
  return { ip, subnet: subnetKey(ip, prefixV4, prefixV6) };
}
