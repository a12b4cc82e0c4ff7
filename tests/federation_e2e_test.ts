// End-to-end: four hopd processes on loopback form a federation. Fake relays (allowlisted
// keys held by the test) inject reports with chosen loads through a raw gossipsub stream;
// every member must rank them as each algorithm specifies. Then: non-member, replayed,
// stale and malformed reports are rejected and counted; a drained relay leaves every
// member's selections; a SIGKILLed one does and is dead in every view; a stopped one says
// goodbye. Each step waits for what it checks to show in the members' HTTP answers. How
// fast (a drain within 200 ms, a death within 3 s) is a product promise measured by
// bench/federation_propagation.ts against its goals, not asserted here: on a busy machine a
// timing assertion fails for the machine, not for hopd.

import assert from "node:assert/strict";
import { createBalancer, type RelayEntry } from "../src/balancer/mod.ts";
import {
  type FederationNode,
  getJson,
  selectedPeers,
  startFederationCluster,
} from "./_helpers/federation_cluster.ts";
import { eventually, metric } from "./_helpers/ops_probe.ts";
import {
  connectInjector,
  keepReporting,
  newSigner,
  report,
  signedMessage,
  signedReport,
} from "./_helpers/report_injector.ts";

const PARIS = { lat: 48.8566, lon: 2.3522 };
const FRANKFURT = { lat: 50.1109, lon: 8.6821 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const SINGAPORE = { lat: 1.3521, lon: 103.8198 };

/** Loads of the fake relays (capacity 100 reservations, 100 circuits, CPU 0). */
const FAKES = [
  { name: "f1", report: { region: "eu", ...PARIS, load: loadOf(10) } },
  { name: "f2", report: { region: "us", ...NEW_YORK, load: loadOf(50) } },
  { name: "f3", report: { region: "eu", ...FRANKFURT, weight: 2, load: loadOf(30) } },
  {
    name: "f4",
    report: { region: "ap", ...SINGAPORE, verdict: "degraded" as const, load: loadOf(20) },
  },
];

/** The member a federation log line is about (`properties.peerId`). */
function memberOf(record: Record<string, unknown>): unknown {
  return (record.properties as { peerId?: unknown } | undefined)?.peerId;
}

/**
 * Waits for `node`'s log line that its view of member `peerId` changed as `change` says: the
 * federation service logs every change ("is suspect: connection lost", "is dead: no report
 * for a while", "left the federation"). `timeoutMs` only bounds a change that never comes.
 */
function memberChange(
  node: FederationNode,
  peerId: string,
  change: RegExp,
  timeoutMs: number,
): Promise<unknown> {
  return node.waitForLog(
    (r) => memberOf(r) === peerId && change.test(String(r.message)),
    timeoutMs,
  );
}

function loadOf(reservations: number) {
  return {
    reservations,
    circuits: 0,
    bytesPerSecondIn: 0,
    bytesPerSecondOut: 0,
    cpu: 0,
    memoryBytes: 0,
  };
}

Deno.test("federation of four hopd processes: views, rankings, rejections, drain and death", async (t) => {
  const fakes = await Promise.all(FAKES.map(async (f) => ({ ...f, signer: await newSigner() })));
  const nonMember = await newSigner();
  // An allowlisted key that reports only when this test says, to check replays exactly.
  const probe = await newSigner();
  const cluster = await startFederationCluster({
    nodes: [{}, {}, {}, {}],
    interval: "250ms",
    extraMembers: [...fakes.map((f) => f.signer.peerId), probe.peerId],
  });
  const [a, b, c, d] = cluster.nodes as [
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
    typeof cluster.nodes[0],
  ];
  const nameOf = new Map(fakes.map((f) => [f.signer.peerId, f.name]));
  const fakeOrder = (peers: string[]) =>
    peers.filter((p) => nameOf.has(p)).map((p) => nameOf.get(p)!);
  const injector = await connectInjector(a.tcpAddr);
  let stopReporting: (() => Promise<void>) | undefined;
  try {
    await t.step("every member sees every member alive and connected", async () => {
      assert.equal(await cluster.converged(15_000), true, "the federation did not converge");
      assert.equal(
        // Polls /v1/federation: a connection (as against a state change) is not logged.
        await eventually(async () => {
          const view = await getJson(b, "/v1/federation");
          return view.members.filter((m: { connected: boolean }) => m.connected).length === 4;
        }),
        true,
      );
      const view = await getJson(b, "/v1/federation");
      assert.equal(view.enabled, true);
      assert.equal(view.self, b.peerId);
      assert.equal(view.members[0].self, true);
      assert.equal(view.members[0].peerId, b.peerId);
      assert.deepEqual(
        view.members.map((m: { peerId: string }) => m.peerId).toSorted(),
        cluster.peerIds.toSorted(),
      );
      const memberA = view.members.find((m: { peerId: string }) => m.peerId === a.peerId);
      assert.ok(memberA.addrs.some((addr: string) => addr === a.tcpAddr), memberA.addrs);
      assert.equal(memberA.verdict, "healthy");
      assert.equal(memberA.capacity.maxReservations, 16_384);
      assert.equal(await metric(b.opsUrl, "hopd_federation_members", { state: "alive" }), 4);
      assert.ok(await metric(b.opsUrl, "hopd_federation_reports_received_total") > 0);
      const status = await getJson(b, "/v1/status");
      assert.deepEqual(status.federation.members, { alive: 4, suspect: 0, dead: 0 });
    });

    stopReporting = keepReporting(
      injector,
      fakes.map((f) => ({ signer: f.signer, report: f.report })),
      100,
    );

    await t.step(
      "each algorithm ranks the injected loads as specified, on every member",
      async () => {
        assert.equal(
          // Polls /select: a report that changes a load, not a state, is not logged.
          await eventually(async () => {
            for (const node of cluster.nodes) {
              if (fakeOrder(await selectedPeers(node)).length !== 4) return false;
            }
            return true;
          }, 10_000),
          true,
          "the fake relays did not reach every member",
        );
        for (const node of cluster.nodes) {
          // capacity: weight × free fraction: f3 2×0.7, f1 0.9, f2 0.5, f4 0.5×0.8.
          assert.deepEqual(fakeOrder(await selectedPeers(node, "algorithm=capacity")), [
            "f3",
            "f1",
            "f2",
            "f4",
          ]);
          // least_connections: weight / (1 + reservations): f1 1/11, f3 2/31, f4 .5/21, f2 1/51.
          assert.deepEqual(fakeOrder(await selectedPeers(node, "algorithm=least_connections")), [
            "f1",
            "f3",
            "f4",
            "f2",
          ]);
          // geo from Paris: Frankfurt (4.8 ms, weight 2) beats Paris itself; then NY, Singapore.
          assert.deepEqual(
            fakeOrder(await selectedPeers(node, `algorithm=geo&lat=${PARIS.lat}&lon=${PARIS.lon}`)),
            ["f3", "f1", "f2", "f4"],
          );
          // geo from region "us": its relays' centre is New York.
          assert.deepEqual(fakeOrder(await selectedPeers(node, "algorithm=geo&region=us")), [
            "f2",
            "f3",
            "f1",
            "f4",
          ]);
        }
      },
    );

    await t.step("affinity sends a client to the same relay from every member", async () => {
      const oracle = createBalancer({ algorithm: "affinity" });
      for (const f of fakes) {
        const r = report(f.report);
        oracle.upsert(
          {
            peerId: f.signer.peerId,
            addrs: [],
            state: "alive",
            verdict: r.verdict,
            draining: false,
            weight: r.weight,
            capacity: r.capacity,
            load: r.load,
          } satisfies RelayEntry,
        );
      }
      for (let k = 0; k < 5; k++) {
        const client = (await newSigner()).peerId;
        const expected = fakeOrder(
          oracle.select({ peer: client, n: 4 }).relays.map((r) => r.peerId),
        );
        for (const node of cluster.nodes) {
          for (let repeat = 0; repeat < 2; repeat++) {
            const got = fakeOrder(await selectedPeers(node, `algorithm=affinity&peer=${client}`));
            assert.deepEqual(got, expected, `client ${k} on ${node.peerId}`);
          }
        }
      }
    });

    await t.step(
      "weighted_round_robin gives each relay first place in proportion to weight",
      async () => {
        // Weights: 4 hopd members 1 each, f1 1, f2 1, f3 2, f4 0.5 (degraded): total 8.5.
        const firsts = new Map<string, number>();
        for (let i = 0; i < 170; i++) {
          const first = (await selectedPeers(c, "algorithm=weighted_round_robin"))[0]!;
          firsts.set(first, (firsts.get(first) ?? 0) + 1);
        }
        const count = (p: string) => firsts.get(p) ?? 0;
        const f = (name: string) => fakes.find((x) => x.name === name)!.signer.peerId;
        // 170 picks = 20 rounds of 8.5: f3 40, f1 20, f2 20, f4 10, each hopd 20 (±3 for a
        // round-robin account reset when a member briefly fails the health filter).
        assert.ok(Math.abs(count(f("f3")) - 40) <= 3, `f3 ${count(f("f3"))}`);
        assert.ok(Math.abs(count(f("f4")) - 10) <= 3, `f4 ${count(f("f4"))}`);
        for (const p of [f("f1"), f("f2"), ...cluster.peerIds]) {
          assert.ok(Math.abs(count(p) - 20) <= 3, `${nameOf.get(p) ?? p} ${count(p)}`);
        }
        assert.ok(
          await metric(c.opsUrl, "hopd_balancer_selections_total", {
            algorithm: "weighted_round_robin",
          }) >= 170,
        );
      },
    );

    await t.step(
      "non-member, replayed, stale and malformed reports are rejected and counted",
      async () => {
        const before = async (reason: string) =>
          await metric(a.opsUrl, "hopd_federation_reports_rejected_total", { reason });
        const counts = {
          non_member: await before("non_member"),
          replayed: await before("replayed"),
          stale: await before("stale"),
          malformed: await before("malformed"),
        };
        const probeReservations = async () => {
          const view = await getJson(a, "/v1/federation");
          return view.members.find((m: { peerId: string }) => m.peerId === probe.peerId)?.load
            .reservations;
        };
        await injector.send(await signedReport(nonMember, { seq: 1 }));
        // The probe's report seq 10 is accepted; then a validly signed older one (seq 5, as a
        // message captured earlier and delivered now would be), a stale one (sent a minute
        // ago) and undecodable bytes are not.
        await injector.send(await signedReport(probe, { epoch: 7, seq: 10, load: loadOf(10) }));
        // Polls: an accepted report that changes only a load is not logged.
        assert.equal(await eventually(async () => await probeReservations() === 10), true);
        await injector.send(await signedReport(probe, { epoch: 7, seq: 5, load: loadOf(5) }));
        await injector.send(
          await signedReport(probe, {
            epoch: 7,
            seq: 20,
            sentAtMs: Date.now() - 60_000,
            load: loadOf(20),
          }),
        );
        await injector.send(await signedMessage(probe, new Uint8Array([0xff, 0xff, 0xff])));
        assert.equal(
          // Polls /metrics: rejections are logged at debug, below the default level (info).
          await eventually(async () =>
            await before("non_member") > counts.non_member &&
            await before("replayed") > counts.replayed &&
            await before("stale") > counts.stale &&
            await before("malformed") > counts.malformed
          ),
          true,
          JSON.stringify({
            non_member: await before("non_member"),
            replayed: await before("replayed"),
            stale: await before("stale"),
            malformed: await before("malformed"),
            counts,
          }),
        );
        // Neither the replay nor the stale report took effect.
        assert.equal(await probeReservations(), 10);
        for (const node of cluster.nodes) {
          const view = await getJson(node, "/v1/federation");
          assert.ok(!view.members.some((m: { peerId: string }) => m.peerId === nonMember.peerId));
        }
        // The rejected ones were not forwarded: the other members never saw them. ("replayed"
        // is left out: a report the mesh forwards after a newer one came direct is one.)
        for (const reason of ["non_member", "stale", "malformed"]) {
          assert.equal(
            await metric(b.opsUrl, "hopd_federation_reports_rejected_total", { reason }),
            0,
            reason,
          );
        }
      },
    );

    await stopReporting();
    stopReporting = undefined;

    await t.step("a drained relay leaves every member's selections", async () => {
      for (const node of [a, b, c]) assert.ok((await selectedPeers(node)).includes(d.peerId));
      const response = await fetch(`${d.opsUrl}/v1/admin/drain`, { method: "POST" });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      // Polls /select: a draining report is not a state change, so it is not logged.
      const gone = await eventually(async () => {
        for (const node of [a, b, c]) {
          if ((await selectedPeers(node)).includes(d.peerId)) return false;
        }
        return true;
      });
      assert.equal(gone, true, "the drained relay is still selected");
      const view = await getJson(a, "/v1/federation");
      assert.equal(
        view.members.find((m: { peerId: string }) => m.peerId === d.peerId).draining,
        true,
      );
      await fetch(`${d.opsUrl}/v1/admin/resume`, { method: "POST" }).then((r) => r.body?.cancel());
      assert.equal(
        // Polls /select: a resumed report is not a state change either.
        await eventually(async () => (await selectedPeers(a)).includes(d.peerId)),
        true,
        "a resumed relay comes back",
      );
    });

    await t.step("a SIGKILLed relay leaves every member's selections", async () => {
      c.killHard();
      await c.status;
      // Each member logs c suspect (its connection lost, or its reports stopped) or dead; the
      // balancer ranks only alive members.
      await Promise.all(
        [a, b, d].map((node) => memberChange(node, c.peerId, / is "?(suspect|dead)/, 5_000)),
      );
      for (const node of [a, b, d]) {
        assert.ok(!(await selectedPeers(node)).includes(c.peerId), "the killed relay is selected");
      }
      await memberChange(a, c.peerId, / is "?dead/, 3_000);
      const view = await getJson(a, "/v1/federation");
      assert.equal(
        view.members.find((m: { peerId: string }) => m.peerId === c.peerId).state,
        "dead",
        "the killed relay is dead in the view",
      );
      // c, the four fake relays and the probe, silent since their reports stopped.
      const deadOnA = () =>
        new Set(a.logs.filter((r) => / is "?dead/.test(String(r.message))).map(memberOf)).size;
      await a.waitForLog(() => deadOnA() >= 6, 5_000);
      assert.equal(await metric(a.opsUrl, "hopd_federation_members", { state: "dead" }), 6);
    });

    await t.step("a relay that stops cleanly is dead in the views at once", async () => {
      const stopping = d.stop();
      // d's last report says it is leaving: a logs it as it applies it.
      await memberChange(a, d.peerId, /left the federation/, 2_000);
      const view = await getJson(a, "/v1/federation");
      assert.equal(
        view.members.find((m: { peerId: string }) => m.peerId === d.peerId).state,
        "dead",
      );
      assert.equal((await stopping).code, 0);
    });
  } finally {
    await stopReporting?.();
    await injector.stop();
    await cluster.stop();
  }
});
