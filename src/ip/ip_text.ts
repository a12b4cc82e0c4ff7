/**
 * IP addresses as the rest of hopd meets them: the IP a multiaddr starts with, the canonical
 * text of an address (so one address is one key however a peer spelled it), and an address
 * as one 128-bit number (IPv4 mapped into `::ffff:0:0/96`) for prefix matching. All parse
 * with {@linkcode parseIp}.
 *
 * @module
 */

import { formatMasked, IP_WORDS, parseIp } from "./parse_ip.ts";

/**
 * What hopd reads of a multiaddr: its components, first to last (`/ip4/192.0.2.1/tcp/4001` is
 * `ip4` "192.0.2.1", then `tcp` "4001"). A `Multiaddr` of `@multiformats/multiaddr` is one;
 * hopd's public signatures that only read an address name this instead, so they say what they
 * read and keep that library's types out of hopd's documented surface.
 */
export interface MultiaddrLike {
  /** The address's protocol components in order; `value` is absent for bare ones (`/ws`). */
  getComponents(): readonly { readonly name: string; readonly value?: string }[];
}

/** `::ffff:0:0/96`, where IPv4 addresses sit among IPv6 ones. */
const V4_MAPPED_PREFIX = 0xffffn << 32n;

/**
 * The IP a multiaddr starts with (`/ip4/…` or `/ip6/…`), as written.
 *
 * @param addr A remote address.
 * @returns The IP text, or undefined for any other first component (memory, unix, dns).
 * @example
 * ```ts
 * import { multiaddr } from "@multiformats/multiaddr";
 * import { ipOf } from "./ip_text.ts";
 * ipOf(multiaddr("/ip4/192.0.2.1/tcp/4001")); // "192.0.2.1"
 * ```
 */
export function ipOf(addr: MultiaddrLike): string | undefined {
  const first = addr.getComponents()[0];
  return first !== undefined && (first.name === "ip4" || first.name === "ip6")
    ? first.value
    : undefined;
}

/**
 * The canonical text of an address: a dotted quad, or RFC 5952 IPv6 (lower case, longest
 * zero run as `::`); IPv4-mapped IPv6 is its IPv4 address.
 *
 * @param text The address.
 * @returns The canonical text, or undefined when `text` is not an IP.
 * @example
 * ```ts
 * import { canonicalIp } from "./ip_text.ts";
 * canonicalIp("::ffff:192.0.2.1"); // "192.0.2.1"
 * canonicalIp("2001:DB8:0:0::1"); // "2001:db8::1"
 * ```
 */
export function canonicalIp(text: string): string | undefined {
  const family = parseIp(text);
  return family === 0 ? undefined : formatMasked(family, family === 4 ? 32 : 128);
}

/**
 * An address as a 128-bit integer, IPv4 mapped into `::ffff:0:0/96`.
 *
 * @param text The address (a zone suffix is ignored).
 * @returns The integer, or undefined when `text` is not an IP.
 * @example
 * ```ts
 * import { ipToBigInt } from "./ip_text.ts";
 * ipToBigInt("::1"); // 1n
 * ```
 */
export function ipToBigInt(text: string): bigint | undefined {
  const family = parseIp(text);
  if (family === 0) return undefined;
  if (family === 4) return V4_MAPPED_PREFIX | BigInt(IP_WORDS[0]!);
  let value = 0n;
  for (const word of IP_WORDS) value = (value << 32n) | BigInt(word);
  return value;
}
