import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { policyActuator } from "./policy_actuator.ts";
import { fakeConnection, fakeLibp2p, newPeer, testLimiter } from "./_test_peers.ts";

async function rig() {
  const { limiter, bans, clock } = await testLimiter();
  const a = await newPeer();
  const b = await newPeer();
  const connections = [
    fakeConnection(a, "/ip4/192.0.2.1/tcp/4001"),
    fakeConnection(a, "/ip4/192.0.2.1/tcp/4002/ws"),
    fakeConnection(b, "/ip4/198.51.100.2/tcp/4001"),
  ];
  const state = { draining: false, restarts: [] as string[], weight: 1 };
  const actuator = policyActuator({
    clock,
    limiter,
    bans,
    banWidth: () => ({ prefixMinV4: 16, prefixMinV6: 32 }),
    libp2p: fakeLibp2p(connections) as unknown as Libp2p,
    draining: () => state.draining,
    setDraining: (draining) => void (state.draining = draining),
    requestRestart: (reason) => void state.restarts.push(reason),
    weight: { get: () => state.weight, set: (weight) => void (state.weight = weight) },
  });
  return { actuator, limiter, bans, a, b, state };
}

Deno.test("policyActuator drives the limiter: throttle, setLimit and limit", async () => {
  const { actuator, limiter } = await rig();
  actuator.throttle(0.5, 60_000);
  assert.equal(limiter.throttleFactor(), 0.5);
  actuator.setLimit("connections_per_ip.rate", 3);
  assert.equal(actuator.limit("connections_per_ip.rate"), 3);
  assert.throws(() => actuator.setLimit("no_such.rate", 1), RangeError);
});

Deno.test("policyActuator bans through the ban list and answers isBanned and banScope", async () => {
  const { actuator, bans, a } = await rig();
  actuator.ban({ peer: a.toString() }, 60_000, "flooding");
  actuator.ban({ cidr: "203.0.113.0/24" }, 60_000, "scanning");
  assert.equal(bans.size(), 2);
  assert.equal(actuator.isBanned({ peer: a.toString() }), true);
  assert.equal(actuator.isBanned({ cidr: "203.0.113.0/24" }), true);
  assert.equal(actuator.isBanned({ cidr: "203.0.113.0" }), true, "the network address alone");
  assert.equal(actuator.isBanned({ cidr: "198.51.100.0/24" }), false);
  assert.deepEqual(actuator.banScope({ cidr: "203.0.113.0/24" }), { addresses: 256 });
  assert.match(actuator.banScope({ cidr: "10.0.0.0/8" }).tooWide ?? "", /wider than a \/16/);
});

Deno.test("policyActuator disconnects, counts peers, drains, restarts and sets the weight", async () => {
  const { actuator, a, state } = await rig();
  assert.equal(actuator.connectedPeers(), 2);
  assert.equal(await actuator.disconnect(a.toString()), 2);
  assert.equal(actuator.connectedPeers(), 1);
  actuator.setDraining(true);
  assert.equal(actuator.draining(), true);
  actuator.restart("memory");
  assert.deepEqual(state.restarts, ["memory"]);
  actuator.weight!.set(0);
  assert.equal(actuator.weight!.get(), 0);
});
