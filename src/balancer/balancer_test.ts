import assert from "node:assert/strict";
import { hashString, pairUniform } from "./_hash.ts";
import { distanceKm } from "./geo.ts";
import { type Algorithm, ALGORITHMS, createBalancer, type RelayEntry } from "./mod.ts";

type EntryInit = Omit<Partial<RelayEntry>, "capacity" | "load"> & {
  capacity?: Partial<RelayEntry["capacity"]>;
  load?: Partial<RelayEntry["load"]>;
};

function relay(peerId: string, init: EntryInit = {}): RelayEntry {
  return {
    addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`],
    state: "alive",
    verdict: "healthy",
    draining: false,
    weight: 1,
    ...init,
    peerId,
    capacity: {
      maxReservations: 100,
      maxCircuits: 100,
      bandwidthBytesPerSecond: 0,
      ...init.capacity,
    },
    load: {
      reservations: 0,
      circuits: 0,
      bytesPerSecondIn: 0,
      bytesPerSecondOut: 0,
      cpu: 0,
      memoryBytes: 0,
      ...init.load,
    },
  };
}

function ids(selection: { relays: readonly { peerId: string }[] }): string[] {
  return selection.relays.map((r) => r.peerId);
}

Deno.test("Balancer.select() leaves out dead, suspect, unhealthy, draining, weight-0 and full relays, with every algorithm", async (t) => {
  const balancer = createBalancer();
  balancer.upsert(relay("ok"));
  balancer.upsert(relay("dead", { state: "dead" }));
  balancer.upsert(relay("suspect", { state: "suspect" }));
  balancer.upsert(relay("unhealthy", { verdict: "unhealthy" }));
  balancer.upsert(relay("draining", { draining: true }));
  balancer.upsert(relay("weight0", { weight: 0 }));
  balancer.upsert(relay("full", { load: { reservations: 100 } }));
  balancer.upsert(relay("circuits-full", { load: { circuits: 100 } }));
  for (const algorithm of ALGORITHMS) {
    await t.step(algorithm, () => {
      const selection = balancer.select({ algorithm, n: 10, peer: "client", lat: 0, lon: 0 });
      assert.deepEqual(ids(selection), ["ok"]);
    });
  }
});

Deno.test("capacity ranks a relay out of CPU or bandwidth last, but still ranks it", () => {
  const balancer = createBalancer();
  balancer.upsert(relay("cpu-bound", { load: { cpu: 1.3 } }));
  balancer.upsert(
    relay("saturated", {
      capacity: { bandwidthBytesPerSecond: 100 },
      load: { bytesPerSecondIn: 80, bytesPerSecondOut: 80 },
    }),
  );
  balancer.upsert(relay("busy", { load: { reservations: 99 } }));
  const selection = balancer.select({ n: 3 });
  assert.equal(selection.relays[0]!.peerId, "busy");
  assert.deepEqual(ids(selection).slice(1).toSorted(), ["cpu-bound", "saturated"]);
  assert.ok(selection.relays[2]!.score > 0);
});

Deno.test("Balancer.select() halves a degraded relay's weight", () => {
  const balancer = createBalancer({ algorithm: "least_connections" });
  balancer.upsert(relay("healthy", { load: { reservations: 3 } })); // 1 / 4 = 0.25
  balancer.upsert(relay("degraded", { verdict: "degraded" })); // 0.5 / 1 = 0.5
  assert.deepEqual(ids(balancer.select()), ["degraded", "healthy"]);
  balancer.upsert(relay("degraded", { verdict: "degraded", load: { reservations: 2 } })); // 0.5/3
  assert.deepEqual(ids(balancer.select()), ["healthy", "degraded"]);
  assert.equal(balancer.select().relays[1]!.score, 0.5 / 3);
});

Deno.test("capacity ranks by weight × the free fraction of the most loaded dimension", () => {
  const balancer = createBalancer({ algorithm: "capacity" });
  balancer.upsert(relay("half-reserved", { load: { reservations: 50 } })); // 0.5
  balancer.upsert(relay("busy-cpu", { load: { reservations: 10, cpu: 0.8 } })); // 0.2
  balancer.upsert(relay("busy-circuits", { load: { circuits: 70 } })); // 0.3
  balancer.upsert(
    relay("busy-bandwidth", {
      capacity: { bandwidthBytesPerSecond: 1_000 },
      load: { bytesPerSecondIn: 300, bytesPerSecondOut: 300 }, // 0.4
    }),
  );
  balancer.upsert(relay("idle-heavy", { weight: 2, load: { reservations: 80 } })); // 2 × 0.2
  balancer.upsert(relay("unlimited", { capacity: { maxReservations: 0, maxCircuits: 0 } })); // 1
  const selection = balancer.select({ n: 10 });
  assert.equal(selection.algorithm, "capacity");
  assert.deepEqual(ids(selection), [
    "unlimited",
    "half-reserved",
    "busy-bandwidth",
    "idle-heavy",
    "busy-circuits",
    "busy-cpu",
  ]);
  assert.deepEqual(
    selection.relays.map((r) => Math.round(r.score * 100) / 100),
    [1, 0.5, 0.4, 0.4, 0.3, 0.2],
  );
});

Deno.test("least_connections ranks by weight / (1 + reservations + circuits)", () => {
  const balancer = createBalancer();
  balancer.upsert(relay("a", { load: { reservations: 5, circuits: 5 } })); // 1/11
  balancer.upsert(relay("b", { load: { reservations: 2 } })); // 1/3
  balancer.upsert(relay("c", { load: { circuits: 1 } })); // 1/2
  balancer.upsert(relay("d", { weight: 4, load: { reservations: 9 } })); // 4/10
  assert.deepEqual(ids(balancer.select({ algorithm: "least_connections", n: 4 })), [
    "c",
    "d",
    "b",
    "a",
  ]);
});

Deno.test("weighted_round_robin puts each relay first in proportion to its weight, evenly spread", () => {
  const balancer = createBalancer({ algorithm: "weighted_round_robin" });
  balancer.upsert(relay("a", { weight: 5 }));
  balancer.upsert(relay("b", { weight: 1 }));
  balancer.upsert(relay("c", { weight: 1 }));
  const firsts: string[] = [];
  for (let i = 0; i < 7; i++) firsts.push(balancer.select().relays[0]!.peerId);
  // Smooth WRR (nginx) gives a a b a c a a (b and c in hash order): every 7 picks hold
  // a 5 times, b and c once each, and a is never first more than twice in a row.
  assert.equal(firsts.filter((p) => p === "a").length, 5);
  assert.equal(firsts.filter((p) => p === "b").length, 1);
  assert.equal(firsts.filter((p) => p === "c").length, 1);
  assert.ok(!firsts.join(",").includes("a,a,a"), firsts.join(","));
  const counts = new Map<string, number>();
  for (let i = 0; i < 700; i++) {
    const first = balancer.select().relays[0]!.peerId;
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { a: 500, b: 100, c: 100 });
});

Deno.test("weighted_round_robin ranks the others in the order they are due, with scores in 0..1", () => {
  const balancer = createBalancer({ algorithm: "weighted_round_robin" });
  balancer.upsert(relay("a", { weight: 3 }));
  balancer.upsert(relay("b", { weight: 2 }));
  balancer.upsert(relay("c", { weight: 1 }));
  const selection = balancer.select({ n: 3 });
  assert.deepEqual(ids(selection), ["a", "b", "c"]);
  for (const r of selection.relays) assert.ok(r.score > 0 && r.score <= 1, String(r.score));
  // a was picked: its account (3) dropped by the total (6) to -3; next round a 0, b 4, c 2.
  assert.deepEqual(ids(balancer.select({ n: 3 })), ["b", "c", "a"]);
});

Deno.test("weighted_round_robin starts a relay afresh after it was filtered out", () => {
  const balancer = createBalancer({ algorithm: "weighted_round_robin" });
  balancer.upsert(relay("a"));
  balancer.upsert(relay("b"));
  for (let i = 0; i < 5; i++) balancer.select();
  balancer.upsert(relay("b", { draining: true }));
  for (let i = 0; i < 5; i++) assert.deepEqual(ids(balancer.select()), ["a"]);
  balancer.upsert(relay("b"));
  const firsts = Array.from({ length: 10 }, () => balancer.select().relays[0]!.peerId);
  assert.equal(firsts.filter((p) => p === "b").length, 5);
});

const PARIS = { lat: 48.8566, lon: 2.3522 };
const FRANKFURT = { lat: 50.1109, lon: 8.6821 };
const NEW_YORK = { lat: 40.7128, lon: -74.006 };
const SINGAPORE = { lat: 1.3521, lon: 103.8198 };

Deno.test("geo ranks by great-circle distance from the client's coordinates", () => {
  const balancer = createBalancer({ algorithm: "geo" });
  balancer.upsert(relay("fra", { ...FRANKFURT, region: "eu" }));
  balancer.upsert(relay("nyc", { ...NEW_YORK, region: "us" }));
  balancer.upsert(relay("sin", { ...SINGAPORE, region: "ap" }));
  assert.deepEqual(ids(balancer.select({ ...PARIS, n: 3 })), ["fra", "nyc", "sin"]);
  // Tokyo: Singapore 5,300 km, Frankfurt 9,300 km, New York 10,850 km.
  assert.deepEqual(ids(balancer.select({ lat: 35.68, lon: 139.69, n: 3 })), [
    "sin",
    "fra",
    "nyc",
  ]);
  const [fra] = balancer.select({ ...PARIS }).relays;
  // Paris–Frankfurt ≈ 479 km ≈ 4.8 ms of RTT: score = 1 / (1 + 4.8 / 20).
  const rttMs = distanceKm(PARIS, FRANKFURT) / 100;
  assert.ok(Math.abs(fra!.score - 1 / (1 + rttMs / 20)) < 1e-9);
});

Deno.test("geo lets weight and health trade against a few ms of distance", () => {
  const balancer = createBalancer({ algorithm: "geo" });
  balancer.upsert(relay("paris", { ...PARIS, verdict: "degraded" })); // 0.5 / 1
  balancer.upsert(relay("fra", FRANKFURT)); // 1 / 1.24
  assert.deepEqual(ids(balancer.select({ ...PARIS, n: 2 })), ["fra", "paris"]);
  balancer.upsert(relay("paris", PARIS));
  assert.deepEqual(ids(balancer.select({ ...PARIS, n: 2 })), ["paris", "fra"]);
});

Deno.test("geo places a client by its region: the centre of that region's relays, else a region match", () => {
  const balancer = createBalancer({ algorithm: "geo" });
  balancer.upsert(relay("fra", { ...FRANKFURT, region: "eu" }));
  balancer.upsert(relay("par", { ...PARIS, region: "eu" }));
  balancer.upsert(relay("nyc", { ...NEW_YORK, region: "us" }));
  balancer.upsert(relay("us-nocoords", { region: "us" }));
  balancer.upsert(relay("nowhere"));
  // "us": centre = New York (0 ms); us-nocoords matches the region (0 ms, a tie); Paris is
  // nearer New York than Frankfurt; nowhere is unknown.
  const us = ids(balancer.select({ region: "us", n: 5 }));
  assert.deepEqual(us.slice(0, 2).toSorted(), ["nyc", "us-nocoords"]);
  assert.deepEqual(us.slice(2), ["par", "fra", "nowhere"]);
  // A region no relay has: every relay with a region is a mismatch, nowhere is unknown.
  const far = balancer.select({ region: "mars", n: 5 });
  assert.equal(far.relays.at(-1)!.peerId, "nowhere");
  assert.ok(far.relays.slice(0, 4).every((r) => Math.abs(r.score - 1 / (1 + 100 / 20)) < 1e-9));
});

Deno.test("geo without any client location ranks by this relay's ping RTT to each", () => {
  const balancer = createBalancer({ algorithm: "geo" });
  balancer.upsert(relay("self", { rttMs: 0 }));
  balancer.upsert(relay("near", { rttMs: 3 }));
  balancer.upsert(relay("far", { rttMs: 80 }));
  balancer.upsert(relay("unpinged"));
  assert.deepEqual(ids(balancer.select({ n: 4 })), ["self", "near", "far", "unpinged"]);
});

Deno.test("affinity sends a client to the same relay every time, on every member", () => {
  const a = createBalancer({ algorithm: "affinity" });
  const b = createBalancer({ algorithm: "affinity" });
  const names = Array.from({ length: 8 }, (_, i) => `relay-${i}`);
  for (const name of names) a.upsert(relay(name));
  for (const name of names.toReversed()) b.upsert(relay(name));
  for (let c = 0; c < 50; c++) {
    const peer = `client-${c}`;
    const first = ids(a.select({ peer, n: 3 }));
    assert.deepEqual(ids(a.select({ peer, n: 3 })), first);
    assert.deepEqual(ids(b.select({ peer, n: 3 })), first);
  }
});

Deno.test("affinity is stable under unrelated membership changes: only clients of a changed relay move", () => {
  const balancer = createBalancer({ algorithm: "affinity" });
  for (let i = 0; i < 10; i++) balancer.upsert(relay(`relay-${i}`));
  const clients = Array.from({ length: 2_000 }, (_, i) => `client-${i}`);
  const before = new Map(clients.map((p) => [p, balancer.select({ peer: p }).relays[0]!.peerId]));
  balancer.upsert(relay("relay-new"));
  balancer.remove("relay-3");
  balancer.upsert(relay("relay-5", { load: { reservations: 60 } })); // load does not matter
  balancer.upsert(relay("relay-7", { draining: true }));
  let moved = 0;
  for (const peer of clients) {
    const now = balancer.select({ peer }).relays[0]!.peerId;
    const was = before.get(peer)!;
    if (was !== "relay-3" && was !== "relay-7") {
      // Unaffected clients stay, unless the new relay outranks theirs.
      assert.ok(now === was || now === "relay-new", `${peer}: ${was} → ${now}`);
    }
    if (now !== was) moved++;
  }
  // relay-3 and relay-7 held ~2/10 of the clients; the new relay takes ~1/10 of the rest.
  assert.ok(moved > 200 && moved < 700, `moved ${moved}`);
  balancer.upsert(relay("relay-7"));
  balancer.remove("relay-new");
  for (const peer of clients) {
    const was = before.get(peer)!;
    if (was !== "relay-3") assert.equal(balancer.select({ peer }).relays[0]!.peerId, was);
  }
});

Deno.test("affinity spreads clients in proportion to weight", () => {
  const balancer = createBalancer({ algorithm: "affinity" });
  balancer.upsert(relay("heavy", { weight: 3 }));
  balancer.upsert(relay("light", { weight: 1 }));
  let heavy = 0;
  for (let c = 0; c < 4_000; c++) {
    if (balancer.select({ peer: `client-${c}` }).relays[0]!.peerId === "heavy") heavy++;
  }
  assert.ok(heavy > 2_850 && heavy < 3_150, `heavy got ${heavy} of 4000`);
});

Deno.test("affinity without a peer ID falls back to capacity and says so", () => {
  const balancer = createBalancer({ algorithm: "affinity" });
  balancer.upsert(relay("busy", { load: { reservations: 90 } }));
  balancer.upsert(relay("idle"));
  const selection = balancer.select({ n: 2 });
  assert.equal(selection.algorithm, "capacity");
  assert.deepEqual(ids(selection), ["idle", "busy"]);
});

Deno.test("equal scores rank alike whatever the insertion order (ties go to the peer ID hash)", () => {
  const names = ["a", "b", "c", "d", "e", "f"];
  const forward = createBalancer();
  const backward = createBalancer();
  for (const name of names) forward.upsert(relay(name));
  for (const name of names.toReversed()) backward.upsert(relay(name));
  for (const algorithm of ["capacity", "least_connections", "geo"] as const) {
    assert.deepEqual(
      ids(forward.select({ algorithm, n: 6 })),
      ids(backward.select({ algorithm, n: 6 })),
    );
  }
});

Deno.test("Balancer.select() clamps n to 1..32 and returns fewer when fewer pass", () => {
  const balancer = createBalancer();
  for (let i = 0; i < 40; i++) balancer.upsert(relay(`r${i}`));
  assert.equal(balancer.select({ n: 0 }).relays.length, 1);
  assert.equal(balancer.select({ n: 1000 }).relays.length, 32);
  assert.equal(balancer.select({ n: 2.9 }).relays.length, 2);
  assert.equal(createBalancer().select().relays.length, 0);
});

Deno.test("Balancer.upsert() replaces a relay and remove() forgets it; rows move without mixing", () => {
  const balancer = createBalancer({ algorithm: "least_connections" });
  for (let i = 0; i < 100; i++) balancer.upsert(relay(`r${i}`, { load: { reservations: i } }));
  assert.equal(balancer.size, 100);
  for (let i = 0; i < 100; i += 2) assert.equal(balancer.remove(`r${i}`), true);
  assert.equal(balancer.remove("r0"), false);
  assert.equal(balancer.size, 50);
  assert.deepEqual(ids(balancer.select({ n: 3 })), ["r1", "r3", "r5"]);
  balancer.upsert(relay("r99", { load: { reservations: 0 } }));
  assert.deepEqual(ids(balancer.select({ n: 2 })), ["r99", "r1"]);
  assert.equal(balancer.get("r99")!.load.reservations, 0);
  assert.equal(balancer.has("r98"), false);
});

// A plain reference: score every relay exactly, sort, cut. The table's bounded skips must
// give the same ranking.
function reference(
  entries: RelayEntry[],
  algorithm: Algorithm,
  hints: { peer?: string; lat?: number; lon?: number },
  n: number,
): string[] {
  const scored = entries.filter((e) => e.state === "alive" && !e.draining).map((e) => {
    const f = e.weight * (e.verdict === "degraded" ? 0.5 : 1);
    if (algorithm === "affinity") {
      const u = pairUniform(hashString(hints.peer!), hashString(e.peerId));
      return { e, score: f / -Math.log(u) };
    }
    const km = distanceKm({ lat: hints.lat!, lon: hints.lon! }, { lat: e.lat!, lon: e.lon! });
    return { e, score: f / (1 + km / 100 / 20) };
  });
  scored.sort((x, y) => y.score - x.score || hashString(y.e.peerId) - hashString(x.e.peerId));
  return scored.slice(0, n).map((s) => s.e.peerId);
}

Deno.test("geo and affinity skip work only where it cannot change the ranking", () => {
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const entries = Array.from({ length: 3_000 }, (_, i) =>
    relay(`relay-${i}`, {
      lat: random() * 180 - 90,
      lon: random() * 360 - 180,
      weight: 0.5 + random() * 3,
      verdict: random() < 0.2 ? "degraded" : "healthy",
      draining: random() < 0.05,
    }));
  const balancer = createBalancer();
  for (const entry of entries) balancer.upsert(entry);
  for (let k = 0; k < 20; k++) {
    const hints = { peer: `client-${k}`, lat: random() * 180 - 90, lon: random() * 360 - 180 };
    for (const algorithm of ["geo", "affinity"] as const) {
      assert.deepEqual(
        ids(balancer.select({ ...hints, algorithm, n: 5 })),
        reference(entries, algorithm, hints, 5),
      );
    }
  }
});
