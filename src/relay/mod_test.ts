// relay(): the config it refuses before building anything, each refusal naming the key and
// the value (the config loader's schema keeps these from files; code that builds a
// ResolvedRelayConfig by hand meets them here).

import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import { relay, type ResolvedRelayConfig, validateRelayConfig } from "./mod.ts";

Deno.test("relay() refuses a config out of range, naming the key and the value", async (t) => {
  const cases: [string, Partial<ResolvedRelayConfig>, string][] = [
    [
      "a negative count",
      { maxReservations: -3 },
      "Cannot start relay as 'maxReservations' must be a non-negative integer: current value is -3",
    ],
    [
      "a fraction",
      { circuitDataBytes: 1.5 },
      "Cannot start relay as 'circuitDataBytes' must be a non-negative integer: current value is 1.5",
    ],
    [
      "an IPv4 prefix past 32",
      { subnetPrefixV4: 33 },
      "Cannot start relay as 'subnetPrefixV4' must be at most 32: current value is 33",
    ],
    [
      "an IPv6 prefix past 128",
      { subnetPrefixV6: 129 },
      "Cannot start relay as 'subnetPrefixV6' must be at most 128: current value is 129",
    ],
    [
      "a reservation TTL of 0",
      { reservationTtlMs: 0 },
      "Cannot start relay as 'reservationTtlMs' must be positive: current value is 0",
    ],
    [
      "a circuit duration past the wire's uint32 of seconds",
      { circuitDurationMs: (2 ** 32) * 1000 },
      `Cannot start relay as 'circuitDurationMs' must fit 2^32-1 seconds: current value is ${
        (2 ** 32) * 1000
      }`,
    ],
  ];
  for (const [name, overrides, message] of cases) {
    await t.step(name, () => {
      const config = { ...defaultConfig().relay, ...overrides };
      assert.throws(() => relay(config), { name: "RangeError", message });
    });
  }
  await t.step("the edges are accepted: prefixes 32 and 128, 0 = unlimited counts", () => {
    validateRelayConfig({
      ...defaultConfig().relay,
      subnetPrefixV4: 32,
      subnetPrefixV6: 128,
      maxReservations: 0,
      maxCircuits: 0,
      circuitDurationMs: (2 ** 32 - 1) * 1000,
    });
  });
});
