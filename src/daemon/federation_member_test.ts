import assert from "node:assert/strict";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { MetricsRegistry } from "../metrics/mod.ts";
import { loadConfig } from "../config/mod.ts";
import { federationPubSub } from "../federation/mod.ts";
import { createHost } from "../host/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { federationMember } from "./federation_member.ts";
import { testLimiter } from "./_test_peers.ts";

Deno.test("federationMember() reports this relay's live load, verdict and drain in its own view", async () => {
  const privateKey = await generateKeyPair("Ed25519");
  const self = peerIdFromPrivateKey(privateKey).toString();
  const config = await loadConfig({
    overrides: {
      node: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      federation: { enabled: true, members: [self] },
      relay: { max_reservations: 100, max_circuits: 50 },
    },
  });
  const host = await createHost({
    node: config.node,
    connections: config.connections,
    tls: config.tls,
    privateKeyProtobuf: privateKeyToProtobuf(privateKey),
    pubsub: federationPubSub(config.federation, self),
  });
  const { limiter } = await testLimiter();
  let draining = false;
  const relay = { stats: () => ({ reservations: 7, circuits: 2 }) } as unknown as Relay;
  const member = federationMember(config, {
    host,
    relay,
    registry: new MetricsRegistry(),
    limiter,
    verdict: () => "degraded",
    draining: () => draining,
  });
  await host.start();
  try {
    draining = true;
    await member.start();
    const own = member.federation.view().members.find((m) => m.self);
    assert.ok(own !== undefined, "its first report is in its own view");
    assert.equal(own.peerId, self);
    assert.equal(own.verdict, "degraded");
    assert.equal(own.draining, true);
    assert.deepEqual(own.capacity, { maxReservations: 100, maxCircuits: 50 });
    assert.equal(own.load.reservations, 7);
    assert.equal(own.load.circuits, 2);
    assert.equal(member.refused("12D3KooWOther", "ip_limit"), undefined);
  } finally {
    await member.stop();
    await host.stop();
  }
});

Deno.test("federationMember() refuses a host built without gossipsub", async () => {
  const config = await loadConfig();
  const { limiter } = await testLimiter();
  assert.throws(
    () =>
      federationMember(config, {
        host: {} as never,
        relay: {} as never,
        registry: new MetricsRegistry(),
        limiter,
        verdict: () => "healthy",
        draining: () => false,
      }),
    TypeError,
  );
});
