import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { MetricsRegistry } from "../metrics/mod.ts";
import { defaultConfig } from "../config/mod.ts";
import type { Host } from "../host/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { daemonOpsApp, OpsService } from "./ops_service.ts";
import { Settings } from "./settings.ts";
import { fakeLibp2p, testLimiter } from "./_test_peers.ts";

async function app(ready = true) {
  const config = defaultConfig();
  const { limiter, bans, clock } = await testLimiter();
  let draining = false;
  const ops = daemonOpsApp({
    peerId: "12D3KooWSelf",
    config,
    settings: new Settings(config, undefined),
    registry: new MetricsRegistry(),
    clock,
    limiter,
    bans,
    host: { libp2p: fakeLibp2p([]) as unknown as Libp2p } as Host,
    relay: { reservations: () => [], circuits: () => [] } as unknown as Relay,
    policy: undefined,
    federation: undefined,
    readiness: () => ({ ready, reasons: ready ? [] : ["node is draining"] }),
    status: () => ({ peerId: "12D3KooWSelf" }),
    setDraining: (value) => void (draining = value),
  });
  return { ops, isDraining: () => draining };
}

Deno.test("daemonOpsApp() serves the node's readiness, status, drain and a federation that is off", async () => {
  const { ops, isDraining } = await app(false);
  const ready = await ops.request("/ready");
  assert.equal(ready.status, 503);
  assert.deepEqual((await ready.json()).reasons, ["node is draining"]);
  assert.deepEqual(await (await ops.request("/v1/status")).json(), { peerId: "12D3KooWSelf" });
  const federation = await (await ops.request("/v1/federation")).json();
  assert.deepEqual(federation, {
    enabled: false,
    self: "12D3KooWSelf",
    topic: "hopd/federation/1",
    members: [],
  });
  assert.equal((await ops.request("/v1/select")).status, 503);
  assert.equal((await ops.request("/v1/policies")).status, 404, "no engine, no policy routes");
  // From loopback without a token: the admin API is open to the operator.
  const drained = await ops.request("/v1/admin/drain", { method: "POST" }, {
    remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" },
  });
  assert.equal(drained.status, 200);
  assert.equal(isDraining(), true);
});

Deno.test("OpsService listens while started and has no address otherwise", async () => {
  const { ops } = await app();
  const service = new OpsService(ops, { hostname: "127.0.0.1", port: 0 });
  assert.throws(() => service.address, /not running/);
  await service.start();
  try {
    const { port } = service.address;
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    await service.stop();
  }
  assert.throws(() => service.address, /not running/);
});
