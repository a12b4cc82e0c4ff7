import assert from "node:assert/strict";
import type { Libp2pEvents } from "@libp2p/interface";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { TypedEventEmitter } from "main-event";
import { ownAddrsConfirmed } from "./own_addrs.ts";
import { loopbackNode } from "./testing.ts";

Deno.test("ownAddrsConfirmed() finds the address and transport managers of a real libp2p node", async () => {
  const node = await loopbackNode({ services: { ownAddrs: ownAddrsConfirmed() } });
  try {
    assert.equal(node.services.ownAddrs.active, true);
    assert.ok(node.getMultiaddrs().length > 0);
  } finally {
    await node.stop();
  }
});

Deno.test("ownAddrsConfirmed() confirms every listener address as a transport address", () => {
  const events = new TypedEventEmitter<Libp2pEvents>();
  const listening = [multiaddr("/ip4/11.0.0.1/tcp/4001"), multiaddr("/ip4/11.0.0.1/tcp/4002/ws")];
  const confirmed: [string, string | undefined][] = [];
  const service = ownAddrsConfirmed()({
    events,
    transportManager: { getAddrs: () => listening },
    addressManager: {
      confirmObservedAddr: (addr: Multiaddr, options?: { type?: string }) =>
        confirmed.push([addr.toString(), options?.type]),
    },
  });
  service.start();
  events.safeDispatchEvent("transport:listening", {});
  assert.deepEqual(confirmed, [
    ["/ip4/11.0.0.1/tcp/4001", "transport"],
    ["/ip4/11.0.0.1/tcp/4002/ws", "transport"],
  ]);
  service.stop();
  events.safeDispatchEvent("transport:listening", {});
  assert.equal(confirmed.length, 2, "no longer listens after stop()");
});

Deno.test("ownAddrsConfirmed() does nothing when libp2p's managers change shape", () => {
  const service = ownAddrsConfirmed()({
    events: new TypedEventEmitter<Libp2pEvents>(),
    transportManager: { getAddrs: () => [] },
    addressManager: {},
  });
  assert.equal(service.active, false);
  service.start();
  service.afterStart?.();
  service.stop();
});
