import { ManualClock } from "../clock/mod.ts";
import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { encodeLoadReport, type LoadReport } from "./pb/load_report.ts";
import { ReportValidator } from "./report_validator.ts";
import { idleLoadReport } from "./testing.ts";

const SELF = "12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf";
const A = "12D3KooWMemberAMemberAMemberAMemberAMemberAMemberAMe";
const B = "12D3KooWMemberBMemberBMemberBMemberBMemberBMemberBMe";
const STRANGER = "12D3KooWStrangerStrangerStrangerStrangerStrangerStr";

function bytes(init: Partial<LoadReport> = {}, nowMs = 10_000): Uint8Array {
  return encodeLoadReport(idleLoadReport({
    sentAtMs: nowMs,
    addrs: [multiaddr("/ip4/192.0.2.1/tcp/4001").bytes],
    ...init,
  }));
}

function validator(clock = new ManualClock(10_000)) {
  return new ReportValidator({
    self: SELF,
    members: [SELF, A, B],
    maxAgeMs: 2_500,
    maxSkewMs: 1_000,
    clock,
  });
}

function reason(check: ReturnType<ReportValidator["check"]>): string {
  return check.ok ? "ok" : check.reason;
}

Deno.test("ReportValidator accepts a member's report and gives its addrs with /p2p/", () => {
  const check = validator().check(A, bytes());
  assert.equal(check.ok, true);
  if (check.ok) assert.deepEqual(check.addrs, [`/ip4/192.0.2.1/tcp/4001/p2p/${A}`]);
});

Deno.test("ReportValidator rejects non-members, ourselves and unsigned messages", () => {
  const v = validator();
  assert.equal(reason(v.check(STRANGER, bytes())), "non_member");
  assert.equal(reason(v.check(SELF, bytes())), "self");
  assert.equal(reason(v.check(undefined, bytes())), "unsigned");
  assert.equal(v.isMember(A), true);
  assert.equal(v.isMember(SELF), true);
  assert.equal(v.isMember(STRANGER), false);
});

Deno.test("ReportValidator rejects malformed bytes and addrs that do not parse", () => {
  const v = validator();
  assert.equal(reason(v.check(A, new Uint8Array([1, 2, 3]))), "malformed");
  assert.equal(reason(v.check(A, bytes({ addrs: [new Uint8Array([0xff, 0x01])] }))), "malformed");
});

Deno.test("ReportValidator rejects a replay: an (epoch, seq) not after the newest accepted", () => {
  const v = validator();
  assert.equal(reason(v.check(A, bytes({ epoch: 5, seq: 10 }))), "ok");
  assert.equal(reason(v.check(A, bytes({ epoch: 5, seq: 10 }))), "replayed");
  assert.equal(reason(v.check(A, bytes({ epoch: 5, seq: 9 }))), "replayed");
  assert.equal(reason(v.check(A, bytes({ epoch: 4, seq: 99 }))), "replayed");
  assert.equal(reason(v.check(A, bytes({ epoch: 5, seq: 11 }))), "ok");
  // A restart (new epoch) starts its sequence again.
  assert.equal(reason(v.check(A, bytes({ epoch: 6, seq: 1 }))), "ok");
  // Each member has its own sequence.
  assert.equal(reason(v.check(B, bytes({ epoch: 1, seq: 1 }))), "ok");
  // A rejected report does not advance the sequence.
  assert.equal(reason(v.check(B, bytes({ epoch: 1, seq: 2, sentAtMs: 0 }))), "stale");
  assert.equal(reason(v.check(B, bytes({ epoch: 1, seq: 2 }))), "ok");
});

Deno.test("ReportValidator rejects reports sent too long ago or too far ahead", () => {
  const v = validator(new ManualClock(100_000));
  // maxAge 2500 + skew 1000.
  assert.equal(reason(v.check(A, bytes({ seq: 1, sentAtMs: 96_400 }))), "stale");
  assert.equal(reason(v.check(A, bytes({ seq: 2, sentAtMs: 96_600 }))), "ok");
  assert.equal(reason(v.check(A, bytes({ seq: 3, sentAtMs: 101_100 }))), "stale");
  assert.equal(reason(v.check(A, bytes({ seq: 4, sentAtMs: 100_900 }))), "ok");
});

Deno.test("ReportValidator.forget() lets a forgotten member start over", () => {
  const v = validator();
  assert.equal(reason(v.check(A, bytes({ seq: 10 }))), "ok");
  v.forget(A);
  assert.equal(reason(v.check(A, bytes({ seq: 3 }))), "ok");
});
