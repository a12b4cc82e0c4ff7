/**
 * The accounting keys of a peer's address: its IP and its subnet (IPv4 /24 and IPv6 /48 by
 * default). IPv4-mapped IPv6 addresses count as IPv4. Addresses with no IP (memory, unix)
 * are their own IP and subnet.
 *
 * @module
 */

import type { Multiaddr } from "@multiformats/multiaddr";

/** Multiaddr protocol codes this file reads. */
const CODE_IP4 = 4;
const CODE_IP6 = 41;
const IPV4_BITS = 32;
const IPV6_HEXTETS = 8;
const HEXTET_BITS = 16;

/** Where a peer connects from, as strings usable as map keys. */
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
  for (const component of addr.getComponents()) {
    if (component.code === CODE_IP4 && component.value !== undefined) {
      return ipv4Keys(component.value, prefixV4) ?? opaque(component.value);
    }
    if (component.code === CODE_IP6 && component.value !== undefined) {
      return ipv6Keys(component.value, prefixV4, prefixV6) ?? opaque(component.value);
    }
  }
  return opaque(addr.toString());
}

function opaque(text: string): AddrKeys {
  return { ip: text, subnet: text };
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!Number.isInteger(octet) || octet < 0 || octet > 255 || part === "") return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function ipv4Keys(text: string, prefix: number): AddrKeys | undefined {
  const value = parseIpv4(text);
  if (value === undefined) return undefined;
  const hostBits = 2 ** (IPV4_BITS - prefix);
  const network = Math.floor(value / hostBits) * hostBits;
  return { ip: `4:${value}`, subnet: `4:${network}/${prefix}` };
}

/** Parses IPv6 text into eight hextets, or undefined. Handles `::` and a dotted IPv4 tail. */
function parseIpv6(text: string): number[] | undefined {
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const groups = part.split(":");
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i] ?? "";
      if (i === groups.length - 1 && group.includes(".")) {
        const v4 = parseIpv4(group);
        if (v4 === undefined) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
        out.push(parseInt(group, 16));
      }
    }
    return out;
  };
  const head = parse(halves[0] ?? "");
  const tail = halves.length === 2 ? parse(halves[1] ?? "") : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = IPV6_HEXTETS - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

function ipv6Keys(text: string, prefixV4: number, prefixV6: number): AddrKeys | undefined {
  const hextets = parseIpv6(text);
  if (hextets === undefined) return undefined;
  // ::ffff:a.b.c.d is an IPv4 peer seen through a dual-stack socket.
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    const v4 = (hextets[6] ?? 0) * 65536 + (hextets[7] ?? 0);
    const hostBits = 2 ** (IPV4_BITS - prefixV4);
    return { ip: `4:${v4}`, subnet: `4:${Math.floor(v4 / hostBits) * hostBits}/${prefixV4}` };
  }
  const masked = hextets.map((h, i) => {
    const keep = Math.min(HEXTET_BITS, Math.max(0, prefixV6 - i * HEXTET_BITS));
    return keep === 0 ? 0 : h & (0xffff << (HEXTET_BITS - keep)) & 0xffff;
  });
  return {
    ip: `6:${hextets.map((h) => h.toString(16)).join(":")}`,
    subnet: `6:${masked.map((h) => h.toString(16)).join(":")}/${prefixV6}`,
  };
}

/**
 * Turns an IP accounting key back into address text, for listings.
 *
 * @param key A key from {@linkcode addrKeys} (`ip`).
 * @returns Dotted IPv4, colon IPv6, or the key itself for non-IP addresses.
 */
export function ipKeyText(key: string): string {
  if (key.startsWith("4:")) {
    const value = Number(key.slice(2));
    if (Number.isInteger(value)) {
      return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
    }
  }
  return key.startsWith("6:") ? key.slice(2) : key;
}
