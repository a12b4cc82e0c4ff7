/**
 * Test helpers for bandwidth caps: a seeded random source (so a failing run replays) and the
 * token bucket's bound, measured over a record of sends.
 *
 * @module
 */

/**
 * mulberry32: a small seeded PRNG.
 *
 * @param seed Any integer.
 * @returns Numbers in [0, 1), the same sequence for the same seed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The largest excess of bytes sent in any window [a, b] over `perSecond × (b − a)`: what a
 * bucket of that rate let through beyond its rate. A cap holds when this stays within its
 * burst.
 *
 * @param sends Sends in time order.
 * @param perSecond The cap, bytes per second.
 * @returns Bytes.
 */
export function largestExcess(
  sends: readonly { readonly atMs: number; readonly bytes: number }[],
  perSecond: number,
): number {
  let worst = 0;
  for (let i = 0; i < sends.length; i++) {
    let bytes = 0;
    for (let j = i; j < sends.length; j++) {
      bytes += sends[j]!.bytes;
      const excess = bytes - perSecond * (sends[j]!.atMs - sends[i]!.atMs) / 1000;
      if (excess > worst) worst = excess;
    }
  }
  return worst;
}
