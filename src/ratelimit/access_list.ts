/**
 * The operator's static access lists from config: peers and CIDR blocks that are always
 * refused (deny), and peers and blocks that are trusted (allow: they skip rate limits and
 * bandwidth caps, for the operator's own nodes). Deny wins over allow.
 *
 * @module
 */

import { CidrSet } from "./cidr_set.ts";

/** The lists as configured. */
export interface AccessListConfig {
  /** Peer IDs always refused. @default [] */
  readonly denyPeers: readonly string[];
  /** CIDR blocks (or bare IPs) always refused. @default [] */
  readonly denyCidrs: readonly string[];
  /** Peer IDs that skip rate limits and bandwidth caps. @default [] */
  readonly allowPeers: readonly string[];
  /** CIDR blocks (or bare IPs) that skip rate limits and bandwidth caps. @default [] */
  readonly allowCidrs: readonly string[];
}

/** Deny and allow lists of peers and CIDR blocks. */
export class AccessList {
  #denyPeers: ReadonlySet<string>;
  #denyCidrs: CidrSet;
  #allowPeers: ReadonlySet<string>;
  #allowCidrs: CidrSet;

  /**
   * Parses the allow and deny lists.
   *
   * @param config The lists.
   * @throws {RangeError} Naming the list and the value that is not a CIDR.
   * @example
   * ```ts
   * import { AccessList } from "./access_list.ts";
   * const access = new AccessList({
   *   denyPeers: [], denyCidrs: ["203.0.113.0/24"], allowPeers: [], allowCidrs: ["10.0.0.0/8"],
   * });
   * access.isDenied(undefined, "203.0.113.9"); // true
   * access.isAllowlisted(undefined, "10.1.2.3"); // true
   * ```
   */
  constructor(config: AccessListConfig) {
    this.#denyPeers = new Set(config.denyPeers);
    this.#allowPeers = new Set(config.allowPeers);
    this.#denyCidrs = cidrSet("access.denyCidrs", config.denyCidrs);
    this.#allowCidrs = cidrSet("access.allowCidrs", config.allowCidrs);
  }

  /** Whether any list has an entry (a cheap guard for the hot path). */
  get empty(): boolean {
    return this.#denyPeers.size === 0 && this.#allowPeers.size === 0 &&
      this.#denyCidrs.size === 0 && this.#allowCidrs.size === 0;
  }

  /**
   * Whether the peer or the IP is on a deny list.
   *
   * @param peerId Peer ID text, if known.
   * @param ip Remote IP, if known.
   */
  isDenied(peerId?: string, ip?: string): boolean {
    return (peerId !== undefined && this.#denyPeers.size > 0 && this.#denyPeers.has(peerId)) ||
      (ip !== undefined && this.#denyCidrs.has(ip));
  }

  /**
   * Whether the peer or the IP is on an allow list (deny is not consulted).
   *
   * @param peerId Peer ID text, if known.
   * @param ip Remote IP, if known.
   */
  isAllowlisted(peerId?: string, ip?: string): boolean {
    return (peerId !== undefined && this.#allowPeers.size > 0 && this.#allowPeers.has(peerId)) ||
      (ip !== undefined && this.#allowCidrs.has(ip));
  }

  /** The lists, CIDRs in canonical form. */
  toConfig(): AccessListConfig {
    return {
      denyPeers: [...this.#denyPeers],
      denyCidrs: [...this.#denyCidrs.values()],
      allowPeers: [...this.#allowPeers],
      allowCidrs: [...this.#allowCidrs.values()],
    };
  }
}

function cidrSet(name: string, values: readonly string[]): CidrSet {
  const set = new CidrSet();
  for (const [i, value] of values.entries()) {
    try {
      set.add(value);
    } catch (error) {
      throw new RangeError(
        `Cannot use '${name}[${i}]' as it is not a CIDR: current value is '${value}'`,
        { cause: error },
      );
    }
  }
  return set;
}
