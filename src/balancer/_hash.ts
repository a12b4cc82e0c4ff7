/**
 * 32-bit hashing for rendezvous (highest random weight) selection: FNV-1a over a string's
 * UTF-16 code units, finished with murmur3's fmix32 so nearby inputs spread over all bits.
 *
 * @module
 */

/** 2^32 / φ, the multiplier that spreads a relay's hash before it meets the client's. */
export const GOLDEN_RATIO_32 = 0x9e37_79b1;

/** murmur3's 32-bit finaliser: every input bit affects every output bit. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A 32-bit hash of a string (FNV-1a, then {@linkcode mix32}).
 *
 * @param text The string (a peer ID).
 * @returns An unsigned 32-bit integer.
 */
export function hashString(text: string): number {
  let h = 0x811c_9dc5;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x0100_0193);
  }
  return mix32(h);
}

/**
 * The rendezvous hash of one (client, relay) pair as a uniform number in (0, 1).
 *
 * @param clientHash {@linkcode hashString} of the client key.
 * @param relayHash {@linkcode hashString} of the relay's peer ID.
 * @returns A number strictly between 0 and 1.
 */
export function pairUniform(clientHash: number, relayHash: number): number {
  // Multiplying by the golden-ratio constant before the XOR keeps (c, r) and (r, c) apart.
  const h = mix32(Math.imul(relayHash, GOLDEN_RATIO_32) ^ clientHash);
  return (h + 0.5) / 4_294_967_296;
}
