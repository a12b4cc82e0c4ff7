/**
 * Maps a client's IP address to a region through operator-configured CIDR blocks
 * (`federation.cidr_regions`), longest prefix first, so the geographic ranking can place a
 * client that gave no location hint. IPv4 addresses and blocks are held as IPv4-mapped
 * IPv6 (`::ffff:a.b.c.d`), so one table serves both families.
 *
 * @example
 * ```ts
 * import { RegionMap } from "./region_map.ts";
 * const map = new RegionMap([
 *   { cidr: "203.0.113.0/24", region: "eu-west" },
 *   { cidr: "203.0.113.128/25", region: "eu-central" },
 * ]);
 * map.lookup("203.0.113.200"); // "eu-central" (the longer prefix wins)
 * map.lookup("198.51.100.1"); // undefined
 * ```
 *
 * @module
 */

import { ipToBigInt } from "../ip/mod.ts";

/** One configured block. */
export interface RegionCidr {
  /** An IPv4 or IPv6 CIDR, e.g. "203.0.113.0/24". */
  readonly cidr: string;
  /** The region of the clients in that block. */
  readonly region: string;
}

interface Block {
  readonly network: bigint;
  readonly mask: bigint;
  readonly prefix: number;
  readonly region: string;
}

const ALL_ONES_128 = (1n << 128n) - 1n;

function parseBlock(entry: RegionCidr): Block {
  const slash = entry.cidr.indexOf("/");
  const addressText = slash === -1 ? entry.cidr : entry.cidr.slice(0, slash);
  const address = ipToBigInt(addressText);
  if (address === undefined) {
    throw new RangeError(
      `Cannot map CIDR '${entry.cidr}' to region '${entry.region}': '${addressText}' is not an IP address`,
    );
  }
  const isV4 = !addressText.includes(":");
  const max = isV4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : entry.cidr.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) {
    throw new RangeError(
      `Cannot map CIDR '${entry.cidr}' to region '${entry.region}': prefix length must be 0..${max}`,
    );
  }
  const prefix128 = isV4 ? prefix + 96 : prefix;
  const mask = prefix128 === 0 ? 0n : (ALL_ONES_128 << BigInt(128 - prefix128)) & ALL_ONES_128;
  return { network: address & mask, mask, prefix: prefix128, region: entry.region };
}

/** CIDR blocks mapped to regions; the longest matching prefix wins. */
export class RegionMap {
  readonly #blocks: readonly Block[];

  /**
   * Parses and sorts the blocks, longest prefix first.
   *
   * @param entries Blocks and their regions, in any order.
   * @throws {RangeError} Naming the entry when a CIDR does not parse.
   */
  constructor(entries: readonly RegionCidr[]) {
    this.#blocks = entries.map(parseBlock).sort((a, b) => b.prefix - a.prefix);
  }

  /** Number of configured blocks. */
  get size(): number {
    return this.#blocks.length;
  }

  /**
   * The region of an address.
   *
   * @param ip An IPv4 or IPv6 address.
   * @returns The region of the longest matching block, or undefined.
   */
  lookup(ip: string): string | undefined {
    if (this.#blocks.length === 0) return undefined;
    const address = ipToBigInt(ip);
    if (address === undefined) return undefined;
    for (const block of this.#blocks) {
      if ((address & block.mask) === block.network) return block.region;
    }
    return undefined;
  }
}
