import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { captureLogs } from "../log/testing.ts";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ManualClock } from "../clock/mod.ts";
import { loadConfig } from "../config/mod.ts";
import type { PubSub, PubSubValidator } from "../host/mod.ts";
import { FederationService } from "./federation_service.ts";
import { encodeLoadReport, type LoadReport } from "./pb/load_report.ts";
import { idleLoadReport } from "./testing.ts";

/** A member's peer ID. */
async function newPeerId(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
}

Deno.test("FederationService logs a member's connection, and what its accepted reports change", async () => {
  using logs = captureLogs(["hopd", "federation"], "debug");
  const { records } = logs;
  const [self, member] = [await newPeerId(), await newPeerId()];
  const config = (await loadConfig({
    overrides: { federation: { enabled: true, members: [self.toString(), member.toString()] } },
  })).federation;
  const clock = new ManualClock();
  const events = new EventTarget();
  // The host and its pubsub as far as the service touches them: no socket, no gossipsub.
  const libp2p = {
    peerId: self,
    addEventListener: events.addEventListener.bind(events),
    removeEventListener: events.removeEventListener.bind(events),
    handle: () => Promise.resolve(),
    unhandle: () => Promise.resolve(),
    getMultiaddrs: () => [],
    getConnections: () => [],
    dial: () => Promise.reject(new Error("no network in this test")),
    peerStore: { merge: () => Promise.resolve() },
  } as unknown as Libp2p;
  const validators = new Map<string, PubSubValidator>();
  const pubsub: PubSub = {
    subscribe: (topic, validate) => void validators.set(topic, validate),
    unsubscribe: (topic) => void validators.delete(topic),
    publish: () => Promise.resolve(),
  };
  const service = new FederationService(config, {
    libp2p,
    pubsub,
    registry: new MetricsRegistry(),
    local: () => ({ ...idleLoadReport().load, verdict: "healthy", draining: false }),
    relayCapacity: { maxReservations: 10, maxCircuits: 10 },
    clock,
  });
  let seq = 0;
  const receive = (init: Partial<LoadReport>) =>
    validators.get(config.topic)!(
      member.toString(),
      encodeLoadReport(idleLoadReport({ seq: ++seq, sentAtMs: clock.nowMs(), ...init })),
    );
  try {
    await service.start();
    records.length = 0;
    events.dispatchEvent(new CustomEvent("peer:connect", { detail: member }));
    const busy = { ...idleLoadReport().load, reservations: 4 };
    assert.equal(receive({}), "accept");
    assert.equal(receive({ load: { ...busy, cpu: 0.5 } }), "accept");
    assert.equal(receive({ load: { ...busy, cpu: 0.9 } }), "accept"); // CPU only
    assert.equal(receive({ load: busy, draining: true }), "accept");
    assert.equal(receive({ load: busy }), "accept");
    const lines = records.map((r) => {
      const { peerId, reservations, changed } = r.properties;
      const about = peerId === member.toString() ? "member" : String(peerId);
      const load = reservations === undefined ? "" : ` ${reservations} ${changed}`;
      return `${r.level} ${String(r.rawMessage).replace("{peerId}", about)}${load}`;
    });
    assert.deepEqual(lines, [
      "debug Member member connected",
      "info Member member is alive",
      "debug Member member reports {reservations} reservations, {circuits} circuits, verdict {verdict}, weight {weight} 0 reservations,circuits,verdict,weight",
      "debug Member member reports {reservations} reservations, {circuits} circuits, verdict {verdict}, weight {weight} 4 reservations",
      "info Member member is draining: no longer selected",
      "info Member member ended its drain",
    ]);
    assert.equal(service.view().members.find((m) => !m.self)?.draining, false);
  } finally {
    await service.stop();
  }
});
