/**
 * Subnet keys: the accounting key of the network an IP belongs to, so that one operator with
 * a whole IPv4 /24 or IPv6 /48 counts as one party.
 *
 * @module
 */

import { formatMasked, parseIp } from "./parse_ip.ts";

/**
 * Returns the subnet of an IP as CIDR text (`"10.1.2.0/24"`, `"2001:db8:1::/48"`).
 * IPv4-mapped IPv6 counts as IPv4. Text that is not an IP is returned unchanged, so it still
 * works as an opaque key (memory or unix transports).
 *
 * @param ip The address.
 * @param prefixV4 IPv4 prefix length (0..32).
 * @param prefixV6 IPv6 prefix length (0..128).
 * @returns The subnet key.
 * @throws {RangeError} A prefix length out of range.
 * @example
 * ```ts
 * import { subnetKey } from "./subnet_key.ts";
 * subnetKey("::ffff:192.0.2.77", 24, 48); // "192.0.2.0/24"
 * ```
 */
export function subnetKey(
  ip: string,
  prefixV4: number,
  prefixV6: number,
): string {
  checkPrefix("prefixV4", prefixV4, 32);
  checkPrefix("prefixV6", prefixV6, 128);
  const family = parseIp(ip);
  if (family === 0) return ip;
  const prefix = family === 4 ? prefixV4 : prefixV6;
  return `${formatMasked(family, prefix)}/${prefix}`;
}

/**
 * Checks a prefix length.
 *
 * @param name Name used in the error.
 * @param value The prefix length.
 * @param max 32 or 128.
 * @throws {RangeError} When not an integer in 0..max.
 */
export function checkPrefix(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`'${name}' must be an integer in 0..${max}: current value is ${value}`);
  }
}
