// End-to-end: four hopd processes on loopback form a federation. Fake relays (allowlisted
// keys held by the test) inject reports with chosen loads through a raw gossipsub stream;
// every member must rank them as each algorithm specifies. Then: non-member, replayed,
// stale and malformed reports are rejected and counted; a drained relay leaves every
// member's selections; a SIGKILLed one does and is dead in every view; a stopped one says
// goodbye. Each step waits for the members' log lines (run at debug: connections, reports
// that change a load, rejections) of what it checks, then checks their HTTP answers. How
// fast (a drain within 200 ms, a death within 3 s) is a product promise measured by
// bench/federation_propagation.ts against its goals, not asserted here: on a busy machine a
// timing assertion fails for the machine, not for hopd.

import assert from "node:assert/strict";
import { createBalancer, type RelayEntry } from "../src/balancer/mod.ts";
import {
  type FederationNode,
  getJson,
  isStateLine,
  lastState,
  selectedPeers,
  startFederationCluster,
} from "./_helpers/federation_cluster.ts";
import { metric } from "./_helpers/ops_probe.ts";
import { nextLine } from "./_helpers/hopd_process.ts";
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

/** A log record's properties. */
function propsOf(record: Record<string, unknown>): Record<string, unknown> {
  return (record.properties ?? {}) as Record<string, unknown>;
}

/** The member a federation log line is about (`properties.peerId`). */
function memberOf(record: Record<string, unknown>): unknown {
  return propsOf(record).peerId;
}

/**
 * Waits for `node`'s debug line of a report of member `peerId` with `reservations`: logged when
 * an accepted report changes the member's reservations, circuits, verdict or weight (its first
 * report included; src/federation/report_changes.ts). Seen already or still to come.
 */
function reported(
  node: FederationNode,
  peerId: string,
  reservations: number,
  timeoutMs?: number,
): Promise<unknown> {
  return node.waitForLog((r) =>
    memberOf(r) === peerId && String(r.message).startsWith("Member ") &&
    propsOf(r).reservations === reservations, timeoutMs);
}

/**
 * Waits until `node`'s last connection line of each of `peerIds` says connected: "Member …
 * connected" (debug) after any "connection lost".
 */
async function connectedTo(node: FederationNode, peerIds: readonly string[]): Promise<void> {
  const connected = (peerId: string) => {
    for (let i = node.logs.length - 1; i >= 0; i--) {
      const record = node.logs[i]!;
      if (memberOf(record) !== peerId) continue;
      const message = String(record.message);
      if (message.endsWith(" connected")) return true;
      if (message.endsWith("connection lost")) return false;
    }
    return false;
  };
  await node.waitForLog(() => peerIds.every(connected));
}

/**
 * Waits for `node`'s log line, past its first `since` lines, that its view of member `peerId`
 * changed as `change` says: the federation service logs every change ("is suspect: connection
 * lost", "is dead: no report for a while", "left the federation"). `since` leaves out the
 * member's earlier changes (a flap on a starved machine). `timeoutMs` only bounds a change that
 * never comes.
 */
function memberChange(
  node: FederationNode,
  peerId: string,
  change: RegExp,
  timeoutMs: number,
  since = 0,
): Promise<unknown> {
  return node.waitForLog(
    (r) =>
      memberOf(r) === peerId && change.test(String(r.message)) && node.logs.indexOf(r) >= since,
    timeoutMs,
  );
}

/** Waits until every one of `nodes` last logged every one of `peerIds` alive. */
async function allAlive(
  nodes: readonly FederationNode[],
  peerIds: readonly string[],
  timeoutMs?: number,
): Promise<void> {
  await Promise.all(
    nodes.map((node) =>
      node.waitForLog(
        () => peerIds.every((peerId) => lastState(node, peerId) === "alive"),
        timeoutMs,
      )
    ),
  );
}

/**
 * Runs `check` (reads of the nodes' answers, and assertions on them) once `ready` resolves,
 * and again (three times at most) when it failed and one of `nodes` logged a change of a
 * member's state meanwhile. On a starved machine a member can miss its reports for
 * `suspect_after` and be suspect for a moment (logged, then alive again with its next report):
 * answers read across such a flap disagree, which is not what the check is about. A check
 * that fails with no state change logged while it ran fails the test.
 */
async function settled(
  nodes: readonly FederationNode[],
  ready: () => Promise<unknown>,
  check: () => Promise<void>,
): Promise<void> {
  for (let attempt = 1;; attempt++) {
    await ready();
    const marks = nodes.map((node) => node.logs.length);
    try {
      return await check();
    } catch (error) {
      const flapped = nodes.some((node, i) => node.logs.slice(marks[i]).some(isStateLine));
      if (!flapped || attempt === 3) throw error;
    }
  }
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
    // For the lines of connections, of reports that change a load and of rejections.
    logLevel: "debug",
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
  const fakesAlive = () => allAlive(cluster.nodes, fakes.map((f) => f.signer.peerId), 10_000);
  const injector = await connectInjector(a.tcpAddr);
  let stopReporting: (() => Promise<void>) | undefined;
  try {
    await t.step("every member sees every member alive and connected", async () => {
      const ready = async () => {
        assert.equal(await cluster.converged(15_000), true, "the federation did not converge");
        await connectedTo(b, [a.peerId, c.peerId, d.peerId]);
      };
      await settled(cluster.nodes, ready, async () => {
        const view = await getJson(b, "/v1/federation");
        assert.equal(view.members.filter((m: { connected: boolean }) => m.connected).length, 4);
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
    });

    stopReporting = keepReporting(
      injector,
      fakes.map((f) => ({ signer: f.signer, report: f.report })),
      100,
    );

    await t.step(
      "each algorithm ranks the injected loads as specified, on every member",
      async () => {
        // Each member logs each fake's first report with its load (a, where they are injected,
        // and the others through the mesh).
        await Promise.all(
          cluster.nodes.flatMap((node) =>
            fakes.map((f) => reported(node, f.signer.peerId, f.report.load.reservations, 10_000))
          ),
        );
        await settled(cluster.nodes, fakesAlive, async () => {
          for (const node of cluster.nodes) {
            assert.equal(fakeOrder(await selectedPeers(node)).length, 4, "a fake relay is missing");
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
              fakeOrder(
                await selectedPeers(node, `algorithm=geo&lat=${PARIS.lat}&lon=${PARIS.lon}`),
              ),
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
        });
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
      const clients = await Promise.all(
        [0, 1, 2, 3, 4].map(async () => (await newSigner()).peerId),
      );
      await settled(cluster.nodes, fakesAlive, async () => {
        for (const [k, client] of clients.entries()) {
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
    });

    await t.step(
      "weighted_round_robin gives each relay first place in proportion to weight",
      async () => {
        // Weights: 4 hopd members 1 each, f1 1, f2 1, f3 2, f4 0.5 (degraded): total 8.5.
        const ready = async () => {
          await fakesAlive();
          assert.equal(await cluster.converged(15_000), true, "the federation did not converge");
        };
        await settled([c], ready, async () => {
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
        });
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
        // The probe's report seq 10 is accepted; then a report of a non-member, a validly
        // signed older one of the probe (seq 5, as a message captured earlier and delivered now
        // would be), a stale one (sent a minute ago) and undecodable bytes are not.
        await injector.send(await signedReport(probe, { epoch: 7, seq: 10, load: loadOf(10) }));
        await reported(a, probe.peerId, 10);
        assert.equal(await probeReservations(), 10);
        // Each rejection is logged at debug with its sender and reason.
        const rejected = (from: string, reason: string) =>
          nextLine(a, (r) => {
            const props = propsOf(r);
            return String(r.message).startsWith("Rejected a report") && props.from === from &&
              props.reason === reason;
          });
        const rejections = Promise.all([
          rejected(nonMember.peerId, "non_member"),
          rejected(probe.peerId, "replayed"),
          rejected(probe.peerId, "stale"),
          rejected(probe.peerId, "malformed"),
        ]);
        await injector.send(await signedReport(nonMember, { seq: 1 }));
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
        await rejections;
        // Counted before they were logged.
        assert.ok(
          await before("non_member") > counts.non_member &&
            await before("replayed") > counts.replayed &&
            await before("stale") > counts.stale &&
            await before("malformed") > counts.malformed,
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
      await settled([a, b, c], () => allAlive([a, b, c], [d.peerId]), async () => {
        for (const node of [a, b, c]) assert.ok((await selectedPeers(node)).includes(d.peerId));
      });
      // Each member logs d's drain, and its end, as it applies the report.
      const drainLine = (node: FederationNode, draining: boolean) =>
        nextLine(node, (r) =>
          memberOf(r) === d.peerId && propsOf(r).draining === draining &&
          / (is draining|ended its drain)/.test(String(r.message)));
      const drained = [a, b, c].map((node) => drainLine(node, true));
      const response = await fetch(`${d.opsUrl}/v1/admin/drain`, { method: "POST" });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      await Promise.all(drained);
      for (const node of [a, b, c]) {
        assert.ok(!(await selectedPeers(node)).includes(d.peerId), "the drained relay is selected");
      }
      const view = await getJson(a, "/v1/federation");
      assert.equal(
        view.members.find((m: { peerId: string }) => m.peerId === d.peerId).draining,
        true,
      );
      const resumed = drainLine(a, false);
      await fetch(`${d.opsUrl}/v1/admin/resume`, { method: "POST" }).then((r) => r.body?.cancel());
      await resumed;
      await settled([a], () => allAlive([a], [d.peerId]), async () => {
        assert.ok((await selectedPeers(a)).includes(d.peerId), "a resumed relay comes back");
      });
    });

    await t.step("a SIGKILLed relay leaves every member's selections", async () => {
      await allAlive([a, b, d], [c.peerId]);
      // Only what the members log from now on: c may have flapped before.
      const since = new Map([a, b, d].map((node) => [node, node.logs.length]));
      c.killHard();
      await c.status;
      // Each member logs c suspect (its connection lost, or its reports stopped) or dead; the
      // balancer ranks only alive members.
      await Promise.all(
        [a, b, d].map((node) =>
          memberChange(node, c.peerId, / is "?(suspect|dead)/, 5_000, since.get(node))
        ),
      );
      for (const node of [a, b, d]) {
        assert.ok(!(await selectedPeers(node)).includes(c.peerId), "the killed relay is selected");
      }
      await memberChange(a, c.peerId, / is "?dead/, 3_000, since.get(a));
      const view = await getJson(a, "/v1/federation");
      assert.equal(
        view.members.find((m: { peerId: string }) => m.peerId === c.peerId).state,
        "dead",
        "the killed relay is dead in the view",
      );
      // c, the four fake relays and the probe, silent since their reports stopped.
      const deadOnA = () => {
        const last = new Map<unknown, string>();
        for (const r of a.logs) if (isStateLine(r)) last.set(memberOf(r), String(r.message));
        return [...last.values()].filter((message) => / is "?dead/.test(message)).length;
      };
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
