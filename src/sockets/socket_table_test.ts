import assert from "node:assert/strict";
import { type SocketPhase, SocketTable, type TableAdmission } from "./socket_table.ts";

const LIMITS = { maxPerIp: 2, maxPerSubnet: 3, maxTotal: 4 };

function admit(
  table: SocketTable<string>,
  value: string,
  ip: string,
  options: { phase?: SocketPhase; deadlineMs?: number; fdsFull?: boolean } = {},
): TableAdmission<string> {
  return table.admit({
    value,
    ip,
    subnet: ip.slice(0, ip.lastIndexOf(".")),
    phase: options.phase ?? "handshake",
    deadlineMs: options.deadlineMs ?? 1_000,
    ...(options.fdsFull === undefined ? {} : { fdsFull: options.fdsFull }),
  });
}

function shedOf(admission: TableAdmission<string>): [string, string] | undefined {
  assert.ok(admission.ok);
  return admission.shed === undefined
    ? undefined
    : [admission.shed.entry.value, admission.shed.reason];
}

Deno.test("SocketTable.admit() sheds an IP's oldest socket past its per-IP bound", () => {
  const table = new SocketTable<string>(LIMITS);
  assert.equal(shedOf(admit(table, "a1", "10.0.0.1")), undefined);
  assert.equal(shedOf(admit(table, "a2", "10.0.0.1")), undefined);
  assert.deepEqual(shedOf(admit(table, "a3", "10.0.0.1")), ["a1", "pending_ip"]);
  assert.equal(table.size, 2);
  assert.equal(table.get("a1"), undefined);
});

Deno.test("SocketTable.admit() sheds a subnet's oldest socket past its per-subnet bound", () => {
  const table = new SocketTable<string>(LIMITS);
  admit(table, "a", "10.0.0.1");
  admit(table, "b", "10.0.0.2");
  admit(table, "c", "10.0.0.3");
  assert.deepEqual(shedOf(admit(table, "d", "10.0.0.4")), ["a", "pending_subnet"]);
});

Deno.test("SocketTable.admit() at the total bound sheds the most-represented subnet, not the newcomer's", () => {
  const table = new SocketTable<string>(LIMITS);
  admit(table, "x", "10.9.9.1");
  admit(table, "a", "10.0.0.1");
  admit(table, "b", "10.0.0.2");
  admit(table, "c", "10.0.0.3");
  const admission = admit(table, "new", "192.0.2.7");
  assert.deepEqual(shedOf(admission), ["a", "pending_total"]);
  assert.ok(table.get("new") !== undefined);
  assert.ok(table.get("x") !== undefined, "the lone socket of another subnet stays");
});

Deno.test("SocketTable.admit() with descriptors short sheds like the total bound, or refuses when nothing can go", () => {
  const table = new SocketTable<string>(LIMITS);
  assert.deepEqual(admit(table, "first", "10.0.0.1", { fdsFull: true }), {
    ok: false,
    reason: "fd_reserve",
  });
  admit(table, "a", "10.0.0.1");
  assert.deepEqual(shedOf(admit(table, "b", "192.0.2.1", { fdsFull: true })), ["a", "fd_reserve"]);
  assert.equal(table.size, 1);
});

Deno.test("SocketTable.admit() never sheds a socket being served, and refuses when only those are left", () => {
  const table = new SocketTable<string>(LIMITS);
  admit(table, "busy1", "10.0.0.1", { phase: "active" });
  admit(table, "busy2", "10.0.0.1", { phase: "active" });
  assert.deepEqual(admit(table, "more", "10.0.0.1"), { ok: false, reason: "pending_ip" });
  admit(table, "idle", "10.0.1.1", { phase: "idle" });
  admit(table, "header", "10.0.2.1", { phase: "header" });
  // Total bound: the busy subnet is the largest, but only idle or header sockets can go.
  assert.deepEqual(shedOf(admit(table, "new", "10.0.3.1")), ["idle", "pending_total"]);
});

Deno.test("SocketTable.expire() removes and returns the sockets past their deadline", () => {
  const table = new SocketTable<string>(LIMITS);
  admit(table, "early", "10.0.0.1", { deadlineMs: 100 });
  admit(table, "late", "10.0.1.1", { deadlineMs: 300 });
  assert.deepEqual(table.expire(99), []);
  assert.deepEqual(table.expire(100).map((entry) => entry.value), ["early"]);
  assert.equal(table.size, 1);
  assert.ok(table.setPhase("late", "idle", 500));
  assert.deepEqual(table.expire(400), []);
  assert.deepEqual(table.expire(500).map((entry) => [entry.value, entry.phase]), [[
    "late",
    "idle",
  ]]);
  assert.equal(table.setPhase("late", "active", 1), false);
});

Deno.test("SocketTable.remove() frees the socket's per-IP and per-subnet share", () => {
  const table = new SocketTable<string>(LIMITS);
  admit(table, "a1", "10.0.0.1");
  admit(table, "a2", "10.0.0.1");
  assert.equal(table.remove("a1")?.value, "a1");
  assert.equal(table.remove("a1"), undefined);
  assert.equal(shedOf(admit(table, "a3", "10.0.0.1")), undefined);
});
