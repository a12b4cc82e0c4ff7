/**
 * IP addresses, parsed once and the same way everywhere: the limiter's tables, bans and
 * access lists, the relay's reservation accounting (per IP and per subnet), the connection
 * gate and the balancer's region map all read addresses through this folder. A small
 * library below every component: no sockets, no state but one scratch buffer.
 *
 * - {@linkcode parseIp}: allocation-free parsing into {@linkcode IP_WORDS} (IPv4-mapped IPv6
 *   parses as IPv4); {@linkcode formatMasked} and {@linkcode networkKey} read it back.
 * - {@linkcode subnetKey}: the CIDR text of the subnet an address belongs to.
 * - {@linkcode ipOf}, {@linkcode canonicalIp}, {@linkcode ipToBigInt}: the IP of a multiaddr
 *   (read as a {@linkcode MultiaddrLike}), the canonical text of an address, and an address as
 *   one 128-bit number.
 *
 * @example
 * ```ts
 * import { canonicalIp, subnetKey } from "./mod.ts";
 * canonicalIp("::ffff:192.0.2.77"); // "192.0.2.77"
 * subnetKey("192.0.2.77", 24, 48); // "192.0.2.0/24"
 * ```
 *
 * @module
 */

export { formatMasked, IP_WORDS, type IpFamily, networkKey, parseIp } from "./parse_ip.ts";
export { checkPrefix, subnetKey } from "./subnet_key.ts";
export { canonicalIp, ipOf, ipToBigInt, type MultiaddrLike } from "./ip_text.ts";
