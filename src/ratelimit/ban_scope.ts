/**
 * How much a ban covers, for the rails around bans: the addresses a CIDR block holds (what
 * the policies' ban cap counts) and whether it is wider than an operator allows without an
 * explicit force (`limits.ban_prefix_min_v4`/`_v6`).
 *
 * @example
 * ```ts
 * import { banScope } from "./ban_scope.ts";
 * const widest = { prefixMinV4: 16, prefixMinV6: 32 };
 * banScope({ cidr: "203.0.113.0/24" }, widest); // { addresses: 256 }
 * banScope({ cidr: "0.0.0.0/0" }, widest).tooWide; // "0.0.0.0/0 is wider than a /16 …"
 * ```
 *
 * @module
 */

import { parseCidr } from "./cidr_set.ts";

/** The widest CIDR bans allowed without force: the shortest prefix per family. */
export interface BanWidthLimits {
  /** Shortest IPv4 prefix a ban may have without force (`limits.ban_prefix_min_v4`). */
  readonly prefixMinV4: number;
  /** Shortest IPv6 prefix a ban may have without force (`limits.ban_prefix_min_v6`). */
  readonly prefixMinV6: number;
}

/** What a ban covers. */
export interface BanScope {
  /**
   * Addresses covered: 1 for a peer; 2^(32 − prefix) for IPv4; for IPv6, /64 networks (what
   * one host or site is given), 2^(64 − prefix), and 1 for anything narrower.
   */
  readonly addresses: number;
  /** Set when the block is wider than the limits allow without force: why. */
  readonly tooWide?: string;
}

/**
 * The scope of a ban on a peer or a CIDR.
 *
 * @param target Exactly one of a peer ID or a CIDR (a bare IP is a /32 or /128).
 * @param limits The widest blocks allowed without force.
 * @returns The addresses covered, and why it is too wide when it is.
 * @throws {RangeError} A CIDR that does not parse.
 */
export function banScope(
  target: { readonly peer?: string; readonly cidr?: string },
  limits: BanWidthLimits,
): BanScope {
  if (target.cidr === undefined) return { addresses: 1 };
  const { family, prefix, text } = parseCidr(target.cidr);
  const addresses = family === 4 ? 2 ** (32 - prefix) : 2 ** Math.max(0, 64 - prefix);
  const min = family === 4 ? limits.prefixMinV4 : limits.prefixMinV6;
  if (prefix >= min) return { addresses };
  return {
    addresses,
    tooWide: `${text} is wider than a /${min} (limits.ban_prefix_min_v${family})`,
  };
}
