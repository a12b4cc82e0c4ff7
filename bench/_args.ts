// Command-line options of the bench scripts.

/**
 * The number after `name` in the script's arguments (`--reservations 3000`), or `fallback`.
 *
 * @throws {RangeError} When the value after `name` is not a number.
 */
export function numberArg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(Deno.args[at + 1]);
  if (!Number.isFinite(value)) {
    throw new RangeError(`${name} must be a number: current value is ${Deno.args[at + 1]}`);
  }
  return value;
}
