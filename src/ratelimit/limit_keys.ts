/**
 * The limiter's named limits (the keys of `Limiter.setLimit` and `limits()`, which the
 * policy engine and admin API use) and the validation of a whole config.
 *
 * @module
 */

import { effectiveBurst } from "./_rate.ts";
import { AccessList } from "./access_list.ts";
import type { RateSpec, ResolvedLimiterConfig } from "./mod.ts";
import { checkPrefix } from "../ip/mod.ts";

/** Rate specs of the config, by their name in limit keys. */
const SPECS = {
  connections_per_ip: "connectionsPerIp",
  connections_per_subnet: "connectionsPerSubnet",
  connections_global: "connectionsGlobal",
  reservations_per_peer: "reservationsPerPeer",
  reservations_per_ip: "reservationsPerIp",
  reservations_global: "reservationsGlobal",
  circuits_per_peer: "circuitsPerPeer",
  circuits_global: "circuitsGlobal",
  http_requests_per_ip: "httpRequestsPerIp",
} as const;
export type SpecField = (typeof SPECS)[keyof typeof SPECS];

const BANDWIDTH = {
  per_circuit: "perCircuitBytesPerSecond",
  per_peer: "perPeerBytesPerSecond",
  global: "globalBytesPerSecond",
} as const;

/**
 * Names accepted by `Limiter.setLimit` and returned by `limits()`: `<spec>.rate` (tokens per
 * second) and `<spec>.burst` for each rate spec, `bandwidth.*` in bytes per second, and
 * `max_tracked_keys`. 0 = unlimited except for `max_tracked_keys` (a positive integer).
 */
export const LIMIT_KEYS = [
  "connections_per_ip.rate",
  "connections_per_ip.burst",
  "connections_per_subnet.rate",
  "connections_per_subnet.burst",
  "connections_global.rate",
  "connections_global.burst",
  "reservations_per_peer.rate",
  "reservations_per_peer.burst",
  "reservations_per_ip.rate",
  "reservations_per_ip.burst",
  "reservations_global.rate",
  "reservations_global.burst",
  "circuits_per_peer.rate",
  "circuits_per_peer.burst",
  "circuits_global.rate",
  "circuits_global.burst",
  "http_requests_per_ip.rate",
  "http_requests_per_ip.burst",
  "bandwidth.per_circuit",
  "bandwidth.per_peer",
  "bandwidth.global",
  "max_tracked_keys",
] as const;

/** One of {@linkcode LIMIT_KEYS}. */
export type LimitKey = (typeof LIMIT_KEYS)[number];

/**
 * Checks a whole config, throwing on the first bad value.
 *
 * @param config The config.
 * @returns The access list it describes.
 * @throws {RangeError} Naming the key and the value.
 */
export function validateLimiterConfig(config: ResolvedLimiterConfig): AccessList {
  for (const field of Object.values(SPECS)) {
    const spec = config[field] as RateSpec | undefined;
    if (spec === undefined || spec === null || typeof spec !== "object") {
      throw new RangeError(`'${field}' must be { ratePerSecond, burst }: current value is ${spec}`);
    }
    effectiveBurst(field, spec.ratePerSecond, spec.burst);
  }
  for (const field of Object.values(BANDWIDTH)) {
    const value = config.bandwidth?.[field];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new RangeError(
        `'bandwidth.${field}' must be a finite number ≥ 0: current value is ${value}`,
      );
    }
  }
  checkPrefix("subnetPrefixV4", config.subnetPrefixV4, 32);
  checkPrefix("subnetPrefixV6", config.subnetPrefixV6, 128);
  checkMaxKeys("maxTrackedKeys", config.maxTrackedKeys);
  const floodRefusals = config.reservationFloodRefusals;
  if (!Number.isInteger(floodRefusals) || floodRefusals < 0) {
    throw new RangeError(
      `'reservationFloodRefusals' must be an integer ≥ 0: current value is ${floodRefusals}`,
    );
  }
  return new AccessList(config.access);
}

function checkMaxKeys(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`'${name}' must be a positive integer: current value is ${value}`);
  }
}

/**
 * The config with one named limit changed.
 *
 * @param config Current config.
 * @param key One of {@linkcode LIMIT_KEYS}.
 * @param value The new value (rates per second, bursts in tokens, bandwidth in bytes/s).
 * @returns The new config.
 * @throws {RangeError} An unknown key or a bad value.
 */
export function withLimit(
  config: ResolvedLimiterConfig,
  key: string,
  value: number,
): ResolvedLimiterConfig {
  if (!(LIMIT_KEYS as readonly string[]).includes(key)) {
    throw new RangeError(
      `Cannot set limit '${key}' as it is not a known limit: known limits are ${
        LIMIT_KEYS.join(", ")
      }`,
    );
  }
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot set limit '${key}' as it must be a finite number ≥ 0: current value is ${value}`,
    );
  }
  const [group, field] = key.split(".") as [string, string | undefined];
  if (key === "max_tracked_keys") {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot set limit '${key}' as it must be a positive integer: current value is ${value}`,
      );
    }
    return { ...config, maxTrackedKeys: value };
  }
  if (group === "bandwidth") {
    const name = BANDWIDTH[field as keyof typeof BANDWIDTH];
    return { ...config, bandwidth: { ...config.bandwidth, [name]: value } };
  }
  const name: SpecField = SPECS[group as keyof typeof SPECS];
  const spec = field === "rate"
    ? { ...config[name], ratePerSecond: value }
    : { ...config[name], burst: value };
  return { ...config, [name]: spec };
}

/**
 * Every named limit of a config.
 *
 * @param config The config.
 * @returns Values by {@linkcode LimitKey}.
 */
export function limitsOf(config: ResolvedLimiterConfig): Record<LimitKey, number> {
  const out: Record<string, number> = {};
  for (const [key, field] of Object.entries(SPECS)) {
    out[`${key}.rate`] = config[field].ratePerSecond;
    out[`${key}.burst`] = config[field].burst;
  }
  for (const [key, field] of Object.entries(BANDWIDTH)) {
    out[`bandwidth.${key}`] = config.bandwidth[field];
  }
  out.max_tracked_keys = config.maxTrackedKeys;
  return out as Record<LimitKey, number>;
}
