/**
 * Reads a client's selection request (query parameters of `GET /v1/select`, or the JSON of
 * `/hopd/select/1.0.0`) into {@linkcode SelectHints}, refusing what is out of range with a
 * {@linkcode BadRequestError} that names the field.
 *
 * @module
 */

import { type Algorithm, ALGORITHMS, MAX_SELECT_COUNT, type SelectHints } from "../balancer/mod.ts";
import { BadRequestError } from "../errors.ts";

/** A peer ID as text: base58btc (12D3KooW…, Qm…) or a base32 CID. */
export const PEER_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,60}$|^b[a-z2-7]{50,70}$/;
/** A region name. */
export const REGION_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** Raw request fields: strings (query) or JSON values. */
export interface SelectRequestInput {
  /** The client's peer ID (for affinity). */
  readonly peer?: unknown;
  /** The client's region: letters, digits and `._:-`, at most 64. */
  readonly region?: unknown;
  /** Latitude in degrees, -90 to 90; needs `lon`. */
  readonly lat?: unknown;
  /** Longitude in degrees, -180 to 180; needs `lat`. */
  readonly lon?: unknown;
  /** How many relays to return, 1 to 32. */
  readonly n?: unknown;
  /** One of the balancer's algorithms. */
  readonly algorithm?: unknown;
}

function text(field: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new BadRequestError(`'${field}' must be a string`);
  return value;
}

function number(
  field: string,
  value: unknown,
  { min, max }: { readonly min: number; readonly max: number },
): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const parsed = typeof value === "number"
    ? value
    : typeof value === "string"
    ? Number(value)
    : NaN;
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new BadRequestError(
      `'${field}' must be a number in ${min}..${max}: current value is ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

/**
 * Validates a selection request.
 *
 * @example
 * ```ts
 * import { parseSelectHints } from "./select_hints.ts";
 * parseSelectHints({ lat: "48.85", lon: "2.35", n: "2" }); // { lat: 48.85, lon: 2.35, n: 2 }
 * ```
 *
 * @param input The raw fields.
 * @returns The hints.
 * @throws {BadRequestError} Naming the first field that is out of range.
 */
export function parseSelectHints(input: SelectRequestInput): SelectHints {
  const hints: {
    peer?: string;
    region?: string;
    lat?: number;
    lon?: number;
    n?: number;
    algorithm?: Algorithm;
  } = {};
  const peer = text("peer", input.peer);
  if (peer !== undefined) {
    if (!PEER_ID_PATTERN.test(peer)) {
      throw new BadRequestError(
        `'peer' must be a peer ID such as 12D3KooW…: current value is ${JSON.stringify(peer)}`,
      );
    }
    hints.peer = peer;
  }
  const region = text("region", input.region);
  if (region !== undefined) {
    if (!REGION_PATTERN.test(region)) {
      throw new BadRequestError(
        `'region' must be 1-64 letters, digits or . _ : -: current value is ${
          JSON.stringify(region)
        }`,
      );
    }
    hints.region = region;
  }
  const lat = number("lat", input.lat, { min: -90, max: 90 });
  const lon = number("lon", input.lon, { min: -180, max: 180 });
  if ((lat === undefined) !== (lon === undefined)) {
    throw new BadRequestError("'lat' and 'lon' must be given together");
  }
  if (lat !== undefined) {
    hints.lat = lat;
    hints.lon = lon;
  }
  const n = number("n", input.n, { min: 1, max: MAX_SELECT_COUNT });
  if (n !== undefined) {
    if (!Number.isInteger(n)) {
      throw new BadRequestError(`'n' must be an integer: current value is ${n}`);
    }
    hints.n = n;
  }
  const algorithm = text("algorithm", input.algorithm);
  if (algorithm !== undefined) {
    if (!(ALGORITHMS as readonly string[]).includes(algorithm)) {
      throw new BadRequestError(
        `'algorithm' must be one of ${ALGORITHMS.join(", ")}: current value is ${
          JSON.stringify(algorithm)
        }`,
      );
    }
    hints.algorithm = algorithm as Algorithm;
  }
  return hints;
}
