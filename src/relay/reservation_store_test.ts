import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { addrKeys } from "./_ip.ts";
import type { AddrKeys } from "./_ip.ts";
import { ManualClock } from "../clock/mod.ts";
import { ReservationStore } from "./reservation_store.ts";
import type { ReservationStoreInit } from "./reservation_store.ts";

function at(ip: string): AddrKeys {
  return addrKeys(multiaddr(`/ip4/${ip}/tcp/4001`), 24, 48);
}

function store(init: Partial<ReservationStoreInit> = {}): ReservationStore<string> {
  return new ReservationStore<string>({
    ttlMs: 60_000,
    maxReservations: 0,
    maxPerIp: 0,
    maxPerSubnet: 0,
    ...init,
  });
}

Deno.test("ReservationStore.reserve() refuses a peer over its per-IP limit", () => {
  const s = store({ maxPerIp: 2 });
  assert.equal(s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") }).status, "OK");
  assert.equal(s.reserve({ key: "b", peer: "b", addr: at("10.0.0.1") }).status, "OK");
  assert.deepEqual(s.reserve({ key: "c", peer: "c", addr: at("10.0.0.1") }), {
    status: "RESERVATION_REFUSED",
    reason: "ip_limit",
  });
  assert.equal(s.reserve({ key: "d", peer: "d", addr: at("10.0.0.2") }).status, "OK");
  assert.equal(s.countForIp(at("10.0.0.1").ip), 2);
});

Deno.test("ReservationStore.reserve() refuses a peer over its per-subnet limit", () => {
  const s = store({ maxPerSubnet: 2 });
  assert.equal(s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") }).status, "OK");
  assert.equal(s.reserve({ key: "b", peer: "b", addr: at("10.0.0.200") }).status, "OK");
  assert.deepEqual(s.reserve({ key: "c", peer: "c", addr: at("10.0.0.7") }), {
    status: "RESERVATION_REFUSED",
    reason: "subnet_limit",
  });
  // Another /24 is another subnet.
  assert.equal(s.reserve({ key: "d", peer: "d", addr: at("10.0.1.1") }).status, "OK");
});

Deno.test("ReservationStore.reserve() refuses past the total limit", () => {
  const s = store({ maxReservations: 2 });
  assert.equal(s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") }).status, "OK");
  assert.equal(s.reserve({ key: "b", peer: "b", addr: at("10.1.0.1") }).status, "OK");
  assert.deepEqual(s.reserve({ key: "c", peer: "c", addr: at("10.2.0.1") }), {
    status: "RESERVATION_REFUSED",
    reason: "total_limit",
  });
  assert.equal(s.size, 2);
});

Deno.test("ReservationStore.reserve() renews a held reservation without taking a new slot", () => {
  const clock = new ManualClock(1_000_000);
  const s = store({ maxReservations: 1, maxPerIp: 1, clock });
  const first = s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  clock.advance(30_000);
  const second = s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  assert.equal(first.status, "OK");
  assert.equal(second.status, "OK");
  assert.ok(first.status === "OK" && second.status === "OK");
  assert.equal(first.renewed, false);
  assert.equal(second.renewed, true);
  assert.equal(second.expiresAtMs - first.expiresAtMs, 30_000);
  assert.equal(s.size, 1);
  assert.equal(s.countForIp(at("10.0.0.1").ip), 1);
});

Deno.test("ReservationStore.reserve() moves a renewing peer's accounting to its new IP", () => {
  const s = store({ maxPerIp: 1 });
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  s.reserve({ key: "b", peer: "b", addr: at("10.0.0.2") });
  // a moves onto b's IP: over the per-IP limit there, so refused and a stays put.
  assert.equal(
    s.reserve({ key: "a", peer: "a", addr: at("10.0.0.2") }).status,
    "RESERVATION_REFUSED",
  );
  assert.equal(s.countForIp(at("10.0.0.1").ip), 1);
  assert.equal(s.reserve({ key: "a", peer: "a", addr: at("10.0.0.3") }).status, "OK");
  assert.equal(s.countForIp(at("10.0.0.1").ip), 0);
  assert.equal(s.countForIp(at("10.0.0.3").ip), 1);
});

Deno.test("ReservationStore.reserve() refuses new peers while draining but renews held ones", () => {
  const s = store();
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  assert.deepEqual(s.reserve({ key: "b", peer: "b", addr: at("10.0.0.2"), draining: true }), {
    status: "RESERVATION_REFUSED",
    reason: "draining",
  });
  assert.equal(
    s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1"), draining: true }).status,
    "OK",
  );
});

Deno.test("ReservationStore expires reservations and frees their counts", () => {
  const clock = new ManualClock(1_000_000);
  const s = store({ maxReservations: 1, maxPerIp: 1, clock });
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  clock.advance(59_999);
  assert.ok(s.get("a"));
  clock.advance(1);
  assert.equal(s.get("a"), undefined);
  assert.equal(s.size, 0);
  assert.equal(s.countForIp(at("10.0.0.1").ip), 0);
  // An expired entry does not hold the total limit either.
  s.reserve({ key: "b", peer: "b", addr: at("10.0.0.2") });
  clock.advance(60_000);
  assert.equal(s.reserve({ key: "c", peer: "c", addr: at("10.0.0.3") }).status, "OK");
});

Deno.test("ReservationStore.sweep() removes only expired reservations, renewals last", () => {
  const clock = new ManualClock(1_000_000);
  const s = store({ clock });
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  clock.advance(10_000);
  s.reserve({ key: "b", peer: "b", addr: at("10.0.0.2") });
  clock.advance(10_000);
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") }); // renewed: now expires after b
  clock.advance(50_000); // b expires at 70 s, a (renewed at 20 s) at 80 s
  assert.equal(s.sweep(), 1);
  assert.equal(s.get("b"), undefined);
  assert.ok(s.get("a"));
});

Deno.test("ReservationStore.remove() frees the slot at once", () => {
  const s = store({ maxReservations: 1, maxPerIp: 1, maxPerSubnet: 1 });
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  assert.equal(s.remove("a"), true);
  assert.equal(s.remove("a"), false);
  assert.equal(s.size, 0);
  assert.equal(s.countForSubnet(at("10.0.0.1").subnet), 0);
  assert.equal(s.reserve({ key: "b", peer: "b", addr: at("10.0.0.1") }).status, "OK");
});

Deno.test("addrKeys() groups IPv4 by /24 and IPv6 by /48 and maps IPv4-mapped IPv6", async (t) => {
  const cases: [string, string, string][] = [
    ["/ip4/192.168.7.9/tcp/1", "/ip4/192.168.7.200/tcp/2", "same"],
    ["/ip4/192.168.7.9/tcp/1", "/ip4/192.168.8.9/tcp/1", "different"],
    ["/ip6/2001:db8:1::1/tcp/1", "/ip6/2001:db8:1:ffff::2/tcp/1", "same"],
    ["/ip6/2001:db8:1::1/tcp/1", "/ip6/2001:db8:2::1/tcp/1", "different"],
    ["/ip6/::ffff:10.0.0.1/tcp/1", "/ip4/10.0.0.99/tcp/1", "same"],
  ];
  for (const [a, b, expected] of cases) {
    await t.step(`${a} vs ${b}: ${expected} subnet`, () => {
      const ka = addrKeys(multiaddr(a), 24, 48);
      const kb = addrKeys(multiaddr(b), 24, 48);
      assert.equal(ka.subnet === kb.subnet, expected === "same");
      assert.notEqual(ka.ip, kb.ip);
    });
  }
});

Deno.test("ReservationStore tells onChange of each reservation added, renewed or removed, and of nothing else", () => {
  const clock = new ManualClock();
  const sizes: number[] = [];
  const s: ReservationStore<string> = store({ clock, onChange: () => sizes.push(s.size) });
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") });
  s.reserve({ key: "a", peer: "a", addr: at("10.0.0.1") }); // renewed
  s.reserve({ key: "b", peer: "b", addr: at("10.0.0.2"), draining: true }); // refused
  s.reserve({ key: "b", peer: "b", addr: at("10.0.0.2") });
  s.remove("b");
  s.remove("b"); // not there
  clock.advance(60_000);
  assert.equal(s.sweep(), 1);
  s.sweep(); // nothing expired
  s.clear(); // already empty
  assert.deepEqual(sizes, [1, 1, 2, 1, 0]);
});
