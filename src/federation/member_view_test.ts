import assert from "node:assert/strict";
import { type MemberRecord, MemberView } from "./member_view.ts";
import { idleLoadReport } from "./testing.ts";

const report = idleLoadReport;

function view() {
  const changes: Array<[string, MemberRecord["state"] | undefined]> = [];
  const v = new MemberView({
    suspectAfterMs: 2_000,
    deadAfterMs: 2_500,
    forgetAfterMs: 300_000,
    onChange: (peerId, record) => changes.push([peerId, record?.state]),
  });
  return { v, changes };
}

Deno.test("MemberView ages a silent member: alive, suspect after 2 s, dead after 2.5 s, forgotten", () => {
  const { v, changes } = view();
  assert.equal(
    v.apply({ peerId: "a", report: report(), addrs: ["/ip4/1.2.3.4/tcp/1/p2p/a"] }, 1_000),
    undefined,
  );
  assert.equal(v.get("a")!.state, "alive");
  assert.deepEqual(v.tick(3_000), []);
  assert.deepEqual(v.tick(3_001), [["a", "suspect"]]);
  assert.deepEqual(v.tick(3_500), []);
  assert.deepEqual(v.tick(3_501), [["a", "dead"]]);
  assert.deepEqual(v.counts(), { alive: 0, suspect: 0, dead: 1 });
  assert.deepEqual(v.tick(301_001), [["a", undefined]]);
  assert.equal(v.get("a"), undefined);
  assert.deepEqual(changes, [
    ["a", "alive"],
    ["a", "suspect"],
    ["a", "dead"],
    ["a", undefined],
  ]);
});

Deno.test("MemberView: a report brings a suspect or dead member back alive", () => {
  const { v } = view();
  v.apply({ peerId: "a", report: report({ seq: 1 }), addrs: [] }, 0);
  v.tick(2_600);
  assert.equal(v.get("a")!.state, "dead");
  assert.equal(v.apply({ peerId: "a", report: report({ seq: 2 }), addrs: [] }, 2_700), "dead");
  assert.equal(v.get("a")!.state, "alive");
  assert.equal(v.get("a")!.report.seq, 2);
  assert.deepEqual(v.tick(2_800), []);
});

Deno.test("MemberView: losing the connection makes an alive member suspect at once", () => {
  const { v } = view();
  v.apply({ peerId: "a", report: report(), addrs: [] }, 0);
  assert.equal(v.setConnected("a", false), false, "never connected: nothing to lose");
  assert.equal(v.get("a")!.state, "alive");
  v.setConnected("a", true);
  assert.equal(v.get("a")!.connected, true);
  assert.equal(v.setConnected("a", false), true);
  assert.equal(v.get("a")!.state, "suspect");
  // Silence still kills it; a report revives it.
  assert.deepEqual(v.tick(2_501), [["a", "dead"]]);
  v.apply({ peerId: "a", report: report({ seq: 2 }), addrs: [] }, 2_600);
  assert.equal(v.get("a")!.state, "alive");
});

Deno.test("MemberView: a leaving report makes the member dead at once", () => {
  const { v } = view();
  v.apply({ peerId: "a", report: report(), addrs: [] }, 0);
  assert.equal(
    v.apply({ peerId: "a", report: report({ seq: 2, leaving: true }), addrs: [] }, 100),
    "alive",
  );
  assert.equal(v.get("a")!.state, "dead");
});

Deno.test("MemberView.oldestReportAgeMs() is the age of the oldest alive member's report", () => {
  const { v } = view();
  assert.equal(v.oldestReportAgeMs(0), undefined);
  v.apply({ peerId: "a", report: report(), addrs: [] }, 1_000);
  v.apply({ peerId: "b", report: report(), addrs: [] }, 1_500);
  assert.equal(v.oldestReportAgeMs(1_800), 800);
  v.apply({ peerId: "c", report: report(), addrs: [] }, 0);
  v.tick(2_001); // c is suspect: not counted
  assert.equal(v.oldestReportAgeMs(2_001), 1_001);
  v.setRtt("b", 12);
  assert.equal(v.get("b")!.rttMs, 12);
  assert.equal(v.size, 3);
});
