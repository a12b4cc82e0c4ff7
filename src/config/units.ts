/**
 * Parsing of the human units used in hopd's config: durations ("90s", "2m",
 * "1h30m") and byte sizes ("128KiB", "1MB", "0").
 *
 * @module
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS_BYTES: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  tb: 1_000_000_000_000,
  kib: 1_024,
  mib: 1_048_576,
  gib: 1_073_741_824,
  tib: 1_099_511_627_776,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/**
 * Parses a duration such as `"90s"`, `"2m"`, `"1h30m"`, `"250ms"` or `"0"`.
 *
 * @param text The duration text.
 * @returns The duration in milliseconds, or `undefined` when the text is not a duration
 * (or is too large to be a safe integer number of milliseconds).
 *
 * @example
 * ```ts
 * import { parseDurationMs } from "./units.ts";
 * parseDurationMs("1h30m"); // 5_400_000
 * ```
 */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  if (trimmed === "") return undefined;
  let totalMs = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < trimmed.length) {
    const match = DURATION_PART.exec(trimmed);
    if (match === null) return undefined;
    totalMs += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
  }
  // Like sizes: a value past 2^53 ms has lost precision and is not a usable duration.
  return Number.isSafeInteger(Math.round(totalMs)) ? Math.round(totalMs) : undefined;
}

/**
 * Parses a byte size such as `"128KiB"`, `"10MB"`, `"4096"` or `"0"`.
 *
 * @param text The size text; a bare number is bytes.
 * @returns The size in bytes, or `undefined` when the text is not a size.
 */
export function parseSizeBytes(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const factor = SIZE_UNITS_BYTES[match[2]!.toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Number(match[1]) * factor;
  return Number.isSafeInteger(Math.round(bytes)) ? Math.round(bytes) : undefined;
}

/**
 * Formats milliseconds as the shortest duration text that parses back to the same value.
 *
 * @param durationMs The duration in milliseconds.
 * @returns A duration such as `"2m"` or `"1500ms"`.
 */
export function formatDurationMs(durationMs: number): string {
  if (durationMs === 0) return "0";
  for (const unit of ["d", "h", "m", "s"] as const) {
    const factor = DURATION_UNITS_MS[unit]!;
    if (durationMs % factor === 0) return `${durationMs / factor}${unit}`;
  }
  return `${durationMs}ms`;
}

const RATE_PATTERN = /^(\d+(?:\.\d+)?)\s*\/\s*(\S+)$/;

/**
 * Parses an event rate such as `"10/s"`, `"600/m"`, `"1/10s"` or `"0"` (unlimited).
 *
 * @param text The rate text: a count, a slash and a duration (a bare unit means one).
 * @returns Events per second, or `undefined` when the text is not a rate.
 *
 * @example
 * ```ts
 * import { parseRatePerSecond } from "./units.ts";
 * parseRatePerSecond("600/m"); // 10
 * ```
 */
export function parseRatePerSecond(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const match = RATE_PATTERN.exec(trimmed);
  if (match === null) return undefined;
  const unit = match[2]!;
  const periodMs = parseDurationMs(/^\d/.test(unit) ? unit : `1${unit}`);
  if (periodMs === undefined || periodMs === 0) return undefined;
  return (Number(match[1]) * 1000) / periodMs;
}
