/**
 * A set of IPv4 and IPv6 CIDR blocks with a fast membership test for single addresses.
 *
 * Blocks are grouped by prefix length; `has(ip)` parses the address once (no allocation for
 * IPv4) and probes one hash set per distinct prefix length present, so its cost grows with
 * the number of distinct prefix lengths (at most 33 + 129), not with the number of blocks.
 *
 * @module
 */

import { formatMasked, type IpFamily, networkKey, parseIp } from "../ip/mod.ts";

/** A parsed CIDR block. */
export interface Cidr {
  /** IPv4 or IPv6. */
  readonly family: 4 | 6;
  /** Prefix length in bits. */
  readonly prefix: number;
  /** Canonical text: network address (host bits cleared) and prefix, e.g. `"10.0.0.0/8"`. */
  readonly text: string;
}

/**
 * Parses a CIDR (`"10.0.0.0/8"`, `"2001:db8::/32"`) or a bare IP (a /32 or /128 block).
 * Host bits are cleared; IPv4-mapped IPv6 blocks of /96 or longer become IPv4 blocks.
 *
 * @param value The text.
 * @returns The block.
 * @throws {RangeError} Naming the value when it is not a CIDR.
 */
export function parseCidr(value: string): Cidr {
  const slash = value.indexOf("/");
  const address = slash === -1 ? value : value.slice(0, slash);
  let family: IpFamily = parseIp(address);
  if (family === 0) {
    throw new RangeError(`Cannot parse CIDR '${value}': '${address}' is not an IP address`);
  }
  const mapped = family === 4 && address.includes(":");
  const max = family === 4 && !mapped ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const digits = value.slice(slash + 1);
    prefix = /^\d{1,3}$/.test(digits) ? Number(digits) : NaN;
    if (!(prefix >= 0 && prefix <= max)) {
      throw new RangeError(
        `Cannot parse CIDR '${value}': prefix length must be an integer in 0..${max}`,
      );
    }
  }
  if (mapped) {
    if (prefix < 96) {
      throw new RangeError(
        `Cannot parse CIDR '${value}': an IPv4-mapped block needs a prefix of at least 96`,
      );
    }
    prefix -= 96;
    family = 4;
  }
  return { family, prefix, text: `${formatMasked(family, prefix)}/${prefix}` };
}

/** IPv4 and IPv6 CIDR blocks; `has(ip)` answers whether any block contains the address. */
export class CidrSet {
  /** prefix length → network keys, per family. */
  #v4 = new Map<number, Set<number | string>>();
  #v6 = new Map<number, Set<number | string>>();
  /** Distinct prefix lengths, longest first (so `match` finds the most specific block). */
  #v4Prefixes: number[] = [];
  #v6Prefixes: number[] = [];
  #texts = new Set<string>();

  /**
   * Creates a set holding `cidrs`.
   *
   * @param cidrs Initial blocks.
   * @throws {RangeError} Naming the first value that is not a CIDR.
   */
  constructor(cidrs: Iterable<string> = []) {
    for (const cidr of cidrs) this.add(cidr);
  }

  /** Number of distinct blocks. */
  get size(): number {
    return this.#texts.size;
  }

  /**
   * Adds a block.
   *
   * @param cidr CIDR text or a bare IP.
   * @returns The canonical text of the block.
   * @throws {RangeError} Naming the value when it is not a CIDR.
   */
  add(cidr: string): string {
    const block = parseCidr(cidr);
    if (this.#texts.has(block.text)) return block.text;
    this.#texts.add(block.text);
    const [byPrefix, prefixes] = this.#family(block.family);
    let keys = byPrefix.get(block.prefix);
    if (keys === undefined) {
      keys = new Set();
      byPrefix.set(block.prefix, keys);
      prefixes.push(block.prefix);
      prefixes.sort((a, b) => b - a);
    }
    parseIp(block.text.slice(0, block.text.indexOf("/")));
    keys.add(networkKey(block.family, block.prefix));
    return block.text;
  }

  /**
   * Removes a block.
   *
   * @param cidr CIDR text or a bare IP (any spelling of the same block).
   * @returns Whether it was present.
   * @throws {RangeError} Naming the value when it is not a CIDR.
   */
  delete(cidr: string): boolean {
    const block = parseCidr(cidr);
    if (!this.#texts.delete(block.text)) return false;
    const [byPrefix, prefixes] = this.#family(block.family);
    const keys = byPrefix.get(block.prefix)!;
    parseIp(block.text.slice(0, block.text.indexOf("/")));
    keys.delete(networkKey(block.family, block.prefix));
    if (keys.size === 0) {
      byPrefix.delete(block.prefix);
      prefixes.splice(prefixes.indexOf(block.prefix), 1);
    }
    return true;
  }

  /**
   * Whether a block contains the address. Text that is not an IP is in no block.
   *
   * @param ip The address.
   * @returns True when some block contains it.
   */
  has(ip: string): boolean {
    if (this.#texts.size === 0) return false;
    const family = parseIp(ip);
    return family !== 0 && this.#find(family) !== -1;
  }

  /**
   * The most specific block containing the address.
   *
   * @param ip The address.
   * @returns The block's canonical text, or undefined.
   */
  match(ip: string): string | undefined {
    if (this.#texts.size === 0) return undefined;
    const family = parseIp(ip);
    if (family === 0) return undefined;
    const prefix = this.#find(family);
    if (prefix === -1) return undefined;
    return `${formatMasked(family, prefix)}/${prefix}`;
  }

  /** The blocks' canonical texts. */
  values(): IterableIterator<string> {
    return this.#texts.values();
  }

  /** Prefix length of the longest block holding the address now in IP_WORDS, or -1. */
  #find(family: 4 | 6): number {
    const [byPrefix, prefixes] = this.#family(family);
    for (let i = 0; i < prefixes.length; i++) {
      const prefix = prefixes[i]!;
      if (byPrefix.get(prefix)!.has(networkKey(family, prefix))) return prefix;
    }
    return -1;
  }

  #family(family: 4 | 6): [Map<number, Set<number | string>>, number[]] {
    return family === 4 ? [this.#v4, this.#v4Prefixes] : [this.#v6, this.#v6Prefixes];
  }
}
