import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { defaultConfig } from "../config/mod.ts";
import { VERSION } from "../version.ts";
import { NodeState } from "./node_state.ts";
import { nodeStatus, type StatusSources } from "./status.ts";
import { fakeConnection, fakeLibp2p, newPeer } from "./_test_peers.ts";

Deno.test("nodeStatus() counts connections by transport and direction, with uptime and readiness", async () => {
  const a = await newPeer();
  const b = await newPeer();
  const libp2p = {
    ...fakeLibp2p([
      fakeConnection(a, "/ip4/192.0.2.1/tcp/4001"),
      fakeConnection(a, "/ip4/192.0.2.1/tcp/4002/ws", "outbound"),
      fakeConnection(b, "/ip4/198.51.100.2/tcp/443/tls/ws"),
    ]),
    getMultiaddrs: () => ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWSelf"],
  } as unknown as Libp2p;
  const state = new NodeState();
  state.setListening(true);
  const sources: StatusSources = {
    peerId: "12D3KooWSelf",
    config: defaultConfig(),
    startedAtMs: 10_000,
    state,
    health: () => ({ verdict: "degraded", reasons: ["cpu"] }),
    host: { libp2p, certificate: () => undefined },
    relay: { stats: () => ({ reservations: 2, circuits: 1 }) as never },
    limiter: { throttleFactor: () => 0.5 },
    bans: { size: () => 3 },
    federation: undefined,
    acme: undefined,
  };
  const status = nodeStatus(sources, 70_000);
  assert.deepEqual(status, {
    peerId: "12D3KooWSelf",
    version: VERSION,
    listen: ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWSelf"],
    announce: [],
    uptimeSeconds: 60,
    connections: { total: 3, inbound: 2, outbound: 1, byTransport: { tcp: 1, ws: 1, wss: 1 } },
    relay: { reservations: 2, circuits: 1 },
    limiter: { throttleFactor: 0.5, bans: 3 },
    ready: true,
    reasons: [],
    draining: false,
    health: { verdict: "degraded", reasons: ["cpu"] },
  });
  state.requestDrain(true);
  const draining = nodeStatus(sources, 70_000);
  assert.equal(draining.draining, true);
  assert.deepEqual(draining.reasons, ["node is draining"]);
});

Deno.test("nodeStatus() shows the certificate served on /tls/ws", () => {
  const libp2p = { ...fakeLibp2p([]), getMultiaddrs: () => [] } as unknown as Libp2p;
  const notAfterMs = Date.UTC(2027, 0, 1);
  const status = nodeStatus({
    peerId: "12D3KooWSelf",
    config: defaultConfig(),
    startedAtMs: 0,
    state: new NodeState(),
    health: () => ({ verdict: "healthy", reasons: [] }),
    host: {
      libp2p,
      certificate: () =>
        ({
          cert: "",
          key: "",
          source: "files",
          domains: ["relay.example"],
          issuer: "Test CA",
          notBeforeMs: 0,
          notAfterMs,
        }) as never,
    },
    relay: { stats: () => ({}) as never },
    limiter: { throttleFactor: () => 1 },
    bans: { size: () => 0 },
    federation: undefined,
    acme: undefined,
  }, 0);
  assert.deepEqual(status.tls, {
    certificate: {
      source: "files",
      domains: ["relay.example"],
      issuer: "Test CA",
      notBefore: "1970-01-01T00:00:00.000Z",
      notAfter: "2027-01-01T00:00:00.000Z",
    },
  });
});
