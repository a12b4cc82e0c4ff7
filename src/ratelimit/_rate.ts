/**
 * Validation and normalisation of rate specs shared by the buckets and tables.
 *
 * @module
 */

/**
 * Checks a rate and burst and returns the burst the bucket uses: the given burst, or one
 * second's worth of rate (at least 1) when it is 0.
 *
 * @param name Key named in errors, e.g. `"connectionsPerIp"`.
 * @param ratePerSecond Tokens per second; 0 = unlimited.
 * @param burst Bucket size; 0 = one second's worth.
 * @returns The effective burst (0 when unlimited).
 * @throws {RangeError} A negative or non-finite value.
 */
export function effectiveBurst(name: string, ratePerSecond: number, burst: number): number {
  if (!Number.isFinite(ratePerSecond) || ratePerSecond < 0) {
    throw new RangeError(
      `'${name}.ratePerSecond' must be a finite number ≥ 0: current value is ${ratePerSecond}`,
    );
  }
  if (!Number.isFinite(burst) || burst < 0) {
    throw new RangeError(`'${name}.burst' must be a finite number ≥ 0: current value is ${burst}`);
  }
  if (ratePerSecond === 0) return 0;
  return burst > 0 ? burst : Math.max(1, ratePerSecond);
}
