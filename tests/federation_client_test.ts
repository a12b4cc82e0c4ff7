// End-to-end: the client helper (src/federation/client/select_relay.ts) with a stock
// js-libp2p client against three hopd processes: it reserves on the relay /v1/select names,
// moves to a survivor when that relay is SIGKILLed, asks over /hopd/select/1.0.0, and a full
// relay logs where a refused client could go instead.

import assert from "node:assert/strict";
import {
  hasReservationOn,
  keepRelayReservation,
  type SelectedRelay,
  selectRelays,
  selectRelaysOverLibp2p,
} from "../src/federation/client/select_relay.ts";
import { peerIdFromString } from "@libp2p/peer-id";
import { startFederationCluster } from "./_helpers/federation_cluster.ts";
import { Arrivals, logsOf } from "./_helpers/ops_probe.ts";
import { reserveOn } from "./_helpers/reserving_client.ts";
import { reservedPeers, startSelectClient } from "./_helpers/select_client.ts";

Deno.test("a stock client reserves through select, and moves to a survivor when its relay dies", async (t) => {
  const cluster = await startFederationCluster({
    // The third relay takes one reservation and no client from select (weight 0): it is the
    // one that refuses and logs alternatives.
    nodes: [{}, {}, { federation: ["weight = 0"], extra: "[relay]\nmax_reservations = 1" }],
    interval: "250ms",
  });
  const [, , full] = cluster.nodes as [
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
  ];
  const urls = cluster.nodes.map((node) => node.opsUrl);
  let client: Awaited<ReturnType<typeof startSelectClient>> | undefined;
  let keeper: ReturnType<typeof keepRelayReservation> | undefined;
  try {
    assert.equal(await cluster.converged(15_000), true, "the federation did not converge");
    client = await startSelectClient();
    const reserved: SelectedRelay[] = [];
    // Each reservation the keeper makes (the first and every move) is an event to check on.
    const reservations = new Arrivals();
    keeper = keepRelayReservation(client, {
      urls,
      algorithm: "affinity",
      onReserved: (relay) => {
        reserved.push(relay);
        reservations.arrived();
      },
    });
    const node = client;
    const keep = keeper;

    let first: SelectedRelay;
    await t.step("it reserves on the relay the federation ranks first for it", async () => {
      const expected = (await selectRelays({
        urls,
        peer: node.peerId.toString(),
        algorithm: "affinity",
      }))[0]!;
      first = await keep.ready;
      assert.equal(first.peerId, expected.peerId);
      assert.equal(hasReservationOn(node, first.peerId), true);
      const relay = cluster.nodes.find((node) => node.peerId === first.peerId)!;
      assert.ok((await reservedPeers(relay.opsUrl)).includes(node.peerId.toString()));
    });

    await t.step("/hopd/select/1.0.0 answers the connected client like /v1/select", async () => {
      const overLibp2p = await selectRelaysOverLibp2p(node, peerIdFromString(first.peerId), {
        algorithm: "affinity",
      });
      const overHttp = await selectRelays({
        urls,
        peer: node.peerId.toString(),
        algorithm: "affinity",
      });
      assert.deepEqual(overLibp2p.map((r) => r.peerId), overHttp.map((r) => r.peerId));
    });

    await t.step(
      "when its relay is SIGKILLed, it re-reserves on a survivor through select",
      async () => {
        const dead = cluster.nodes.find((node) => node.peerId === first.peerId)!;
        dead.killHard();
        await dead.status;
        assert.equal(
          await reservations.until(
            () => keep.current() !== undefined && keep.current() !== first,
            15_000,
          ),
          true,
          "the client did not move",
        );
        const now = keep.current()!;
        assert.notEqual(now.peerId, first.peerId);
        assert.equal(hasReservationOn(node, now.peerId), true);
        const survivor = cluster.nodes.find((node) => node.peerId === now.peerId)!;
        assert.ok((await reservedPeers(survivor.opsUrl)).includes(node.peerId.toString()));
        assert.deepEqual(reserved.map((r) => r.peerId), [first.peerId, now.peerId]);
      },
    );

    await t.step("a full relay logs the alternatives of a client it refuses", async () => {
      assert.notEqual(full.peerId, first!.peerId, "weight 0: never selected");
      const holder = await reserveOn(full.tcpAddr);
      assert.ok(holder !== undefined, "the first node reserves");
      const refused = await reserveOn(full.tcpAddr);
      assert.equal(refused, undefined, "the second is refused (max_reservations = 1)");
      await holder!.stop();
      await full.waitForLog((r) =>
        logsOf([r], "hopd.federation").length === 1 &&
        String(r.message).startsWith("Refused a reservation")
      );
      const record = logsOf(full.logs, "hopd.federation").find((r) =>
        String(r.message).startsWith("Refused a reservation")
      )!;
      const props = record.properties as {
        reason: string;
        alternatives: { peerId: string; addr: string }[];
      };
      assert.equal(props.reason, "total_limit");
      const others = cluster.nodes.filter((n) => n !== full && n.peerId !== first!.peerId);
      assert.deepEqual(
        props.alternatives.map((x) => x.peerId).toSorted(),
        others.map((n) => n.peerId).toSorted(),
      );
    });
  } finally {
    keeper?.stop();
    await client?.stop();
    await cluster.stop();
  }
});
