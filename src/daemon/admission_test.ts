import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import {
  banTarget,
  closeBanned,
  disconnectPeer,
  type PluginHooks,
  relayAdmission,
  withPluginHooks,
} from "./admission.ts";
import { fakeConnection, fakeLibp2p, newPeer, testLimiter } from "./_test_peers.ts";

Deno.test("relayAdmission() answers with the limiter's verdicts as the spec's status codes", async (t) => {
  const peer = (await newPeer()).toString();
  const target = (await newPeer()).toString();
  await t.step("a ban is a permission matter", async () => {
    const { limiter, bans } = await testLimiter();
    bans.ban({ kind: "peer", value: peer });
    const admission = relayAdmission(limiter, () => 0);
    assert.deepEqual(admission.reservation(peer, "192.0.2.1"), {
      ok: false,
      status: "PERMISSION_DENIED",
      reason: "banned",
    });
    assert.equal(admission.circuit(target, "192.0.2.2", peer).ok, false, "nor be reached");
    assert.equal(admission.circuit(target, "192.0.2.2", (await newPeer()).toString()).ok, true);
  });
  await t.step("a rate is a resource matter", async () => {
    const { limiter } = await testLimiter({
      limits: { reservations_per_peer: "1/s", reservations_per_peer_burst: 1 },
    });
    const admission = relayAdmission(limiter, () => 0);
    assert.deepEqual(admission.reservation(peer, "192.0.2.1"), { ok: true });
    const refused = admission.reservation(peer, "192.0.2.1");
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.status, "RESOURCE_LIMIT_EXCEEDED");
  });
  await t.step(
    "allowlisted peers get their own circuit limit; unshaped flows are absent",
    async () => {
      const { limiter } = await testLimiter({ access: { allow_peers: [peer] } });
      const admission = relayAdmission(limiter, () => 64);
      assert.equal(admission.maxCircuitsPerPeer(peer, "192.0.2.1"), 64);
      assert.equal(admission.maxCircuitsPerPeer(target, "192.0.2.1"), undefined);
      assert.equal(admission.openFlow(target, "192.0.2.1"), undefined, "no bandwidth cap set");
    },
  );
});

Deno.test("withPluginHooks() asks the plugins only when they have a hook, and maps a refusal", async () => {
  const peer = (await newPeer()).toString();
  const { limiter } = await testLimiter();
  const asked: string[] = [];
  let plugins: PluginHooks | undefined = {
    reservation: (event) => {
      asked.push(`reservation ${event.ip}`);
      return Promise.resolve({ accept: false, reason: "plugin:listed: no" });
    },
    circuit: () => undefined,
  };
  const admission = withPluginHooks(relayAdmission(limiter, () => 0), () => plugins);
  assert.deepEqual(await admission.reservationHook!(peer, "192.0.2.1"), {
    ok: false,
    status: "RESERVATION_REFUSED",
    reason: "plugin",
  });
  assert.equal(admission.circuitHook!(peer, undefined, peer), undefined, "no await when no hook");
  plugins = undefined;
  assert.equal(admission.reservationHook!(peer, "192.0.2.1"), undefined, "engine not ready");
  assert.deepEqual(asked, ["reservation 192.0.2.1"]);
});

Deno.test("closeBanned() closes a banned peer's connections, or those from a banned CIDR", async () => {
  const a = await newPeer();
  const b = await newPeer();
  const connections = [
    fakeConnection(a, "/ip4/192.0.2.1/tcp/4001"),
    fakeConnection(b, "/ip4/198.51.100.7/tcp/4001"),
    fakeConnection(b, "/ip6/2001:db8::7/tcp/4001"),
  ];
  const libp2p = fakeLibp2p(connections) as unknown as Libp2p;
  const ban = { createdAtMs: 0 };
  assert.equal(await closeBanned(libp2p, { ...ban, kind: "peer", value: a.toString() }), 1);
  assert.deepEqual(connections.map((c) => c.closed), [true, false, false]);
  assert.equal(await closeBanned(libp2p, { ...ban, kind: "cidr", value: "2001:db8::/32" }), 1);
  assert.deepEqual(connections.map((c) => c.closed), [true, false, true]);
  assert.equal(await closeBanned(libp2p, { ...ban, kind: "peer", value: "not a peer" }), 0);
});

Deno.test("disconnectPeer() hangs up on a peer and says how many connections it had", async () => {
  const a = await newPeer();
  const connections = [
    fakeConnection(a, "/ip4/192.0.2.1/tcp/4001"),
    fakeConnection(a, "/ip4/192.0.2.1/tcp/4002/ws"),
  ];
  const libp2p = fakeLibp2p(connections);
  assert.equal(await disconnectPeer(libp2p as unknown as Libp2p, a), 2);
  assert.equal(libp2p.getConnections().length, 0);
});

Deno.test("banTarget() names the peer, else the CIDR, and refuses neither", () => {
  assert.deepEqual(banTarget({ peer: "12D3KooWA" }), { kind: "peer", value: "12D3KooWA" });
  assert.deepEqual(banTarget({ cidr: "192.0.2.0/24" }), { kind: "cidr", value: "192.0.2.0/24" });
  assert.throws(() => banTarget({}), TypeError);
});
