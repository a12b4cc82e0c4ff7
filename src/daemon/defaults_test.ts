// What each component runs with when nothing is configured: the components are built (not
// started) from the embedded defaults, the config schema, and what they hold is compared
// with the numbers hopd ships. Every unit test that needs a default takes it from the same
// schema (`defaultConfig()`), so none can pass against numbers hopd does not ship.

import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import type { Components } from "./components.ts";
import { buildTestComponents } from "./_test_peers.ts";
import { startOrder } from "./start_order.ts";

function buildDefaults(): Promise<Components> {
  return buildTestComponents(defaultConfig());
}

Deno.test("the embedded defaults are what each component runs with", async (t) => {
  const c = await buildDefaults();
  await t.step("relay", () => {
    assert.deepEqual(c.relay.config, {
      reservationTtlMs: 3_600_000,
      maxReservations: 16_384,
      maxReservationsPerIp: 32,
      maxReservationsPerSubnet: 128,
      subnetPrefixV4: 24,
      subnetPrefixV6: 48,
      maxCircuits: 4_096,
      maxCircuitsPerPeer: 16,
      circuitDurationMs: 120_000,
      circuitDataBytes: 131_072,
      handshakeTimeoutMs: 10_000,
      maxMessageBytes: 4_096,
      stopPipelining: true,
    });
  });
  await t.step("rate limiter", () => {
    assert.deepEqual(c.limiter.limits(), {
      "connections_per_ip.rate": 10,
      "connections_per_ip.burst": 40,
      "connections_per_subnet.rate": 50,
      "connections_per_subnet.burst": 200,
      "connections_global.rate": 1_000,
      "connections_global.burst": 2_000,
      "reservations_per_peer.rate": 1,
      "reservations_per_peer.burst": 10,
      "reservations_per_ip.rate": 5,
      "reservations_per_ip.burst": 40,
      "reservations_global.rate": 200,
      "reservations_global.burst": 1_000,
      "circuits_per_peer.rate": 5,
      "circuits_per_peer.burst": 20,
      "circuits_global.rate": 1_000,
      "circuits_global.burst": 2_000,
      "http_requests_per_ip.rate": 50,
      "http_requests_per_ip.burst": 200,
      "bandwidth.per_circuit": 0,
      "bandwidth.per_peer": 0,
      "bandwidth.global": 0,
      max_tracked_keys: 100_000,
    });
    assert.equal(c.limiter.throttleFactor(), 1);
  });
  await t.step("admin API and allowlist", () => {
    assert.deepEqual(c.settings.adminAuth(), {
      token: undefined,
      allowRemote: false,
      maxBodyBytes: 16_384,
    });
    assert.equal(c.settings.allowlistMaxCircuitsPerPeer, 0);
  });
  await t.step("AutoNAT server on, with go-libp2p's rates", () => {
    assert.notEqual(c.autonat, undefined);
    assert.deepEqual(c.config.autonat, {
      enabled: true,
      dialsPerPeer: { ratePerSecond: 3 / 60, burst: 3 },
      dialsGlobal: { ratePerSecond: 30 / 60, burst: 30 },
      dialTimeoutMs: 15_000,
      maxAddrs: 16,
    });
  });
  await t.step("policy engine on, federation off", () => {
    assert.notEqual(c.policy, undefined);
    assert.notEqual(c.snapshots, undefined);
    assert.equal(c.federation, undefined);
  });
  await t.step("start order", () => {
    assert.deepEqual(startOrder(c).map((s) => s.name), [
      "ban list",
      "libp2p host",
      "relay",
      "autonat",
      "ops server",
      "socket guards",
      "limiter sweep",
      "policy snapshots",
      "policy engine",
      "memory at rest",
    ]);
  });
});
