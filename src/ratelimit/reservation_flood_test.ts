// The reservation flood gate of the limiter (`reservationFloodRefusals`): an IP whose RESERVE
// requests keep being refused for its per-IP rate pays a reservation token per new connection
// at accept, before any handshake; peers behind one NAT within the rate never notice it.
import assert from "node:assert/strict";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ManualClock } from "../clock/mod.ts";
import { defaultConfig } from "../config/mod.ts";
import { RESERVATION_FLOOD_WINDOW_MS } from "./constants.ts";
import { BanList, createLimiter, limiterConfigFrom, type ResolvedLimiterConfig } from "./mod.ts";

const FLOODER = "2001:db8::66";
const NEIGHBOUR = "2001:db8::77";

/** Defaults, except reservations per IP: 1 per second, 4 at once; flooding at 3 refusals. */
function setup(overrides: Partial<ResolvedLimiterConfig> = {}) {
  const clock = new ManualClock();
  const registry = new MetricsRegistry();
  const limiter = createLimiter({
    ...limiterConfigFrom(defaultConfig()),
    reservationsPerIp: { ratePerSecond: 1, burst: 4 },
    reservationFloodRefusals: 3,
    ...overrides,
  }, { clock, bans: new BanList({ clock }), registry });
  let fresh = 0;
  /** A new identity from `ip` connects and reserves, as a flood loop does. */
  const attempt = (ip: string): string => {
    const connection = limiter.checkConnection(ip);
    if (!connection.ok) return `connection ${connection.reason}`;
    const reservation = limiter.checkReservation(`fresh-${fresh++}`, ip);
    return reservation.ok ? "reserved" : `reservation ${reservation.reason}`;
  };
  return { clock, limiter, registry, attempt };
}

/** "ok", or the refusal's reason. */
function reason(result: { ok: boolean; reason?: string }): string {
  return result.ok ? "ok" : result.reason ?? "";
}

/** Spends the IP's reservation burst and `refusals` more attempts. */
function flood(attempt: (ip: string) => string, ip: string, refusals: number): string[] {
  return Array.from({ length: 4 + refusals }, () => attempt(ip));
}

Deno.test("an IP refused reservations N times is refused new connections before the handshake", async () => {
  const { limiter, registry, attempt } = setup();
  assert.deepEqual(flood(attempt, FLOODER, 3), [
    ...Array(4).fill("reserved"),
    ...Array(3).fill("reservation rate_ip"),
  ]);
  // The third refusal made the IP flooding: its next connections need a reservation token,
  // and it has none left, so they are refused at accept (the connection bucket had room).
  assert.deepEqual(limiter.checkConnection(FLOODER), {
    ok: false,
    reason: "reservation_quota",
    retryAfterMs: 1_000,
  });
  assert.equal(attempt(FLOODER), "connection reservation_quota");
  // Another IP, even in the same /48, is not touched.
  assert.equal(attempt(NEIGHBOUR), "reserved");
  const text = await registry.metrics();
  assert.match(
    text,
    /hopd_rate_limited_total\{limiter="connection",reason="reservation_quota"\} 2/,
  );
  assert.match(text, /hopd_ratelimit_tracked_keys\{limiter="reservation_flooding_ips"\} 1/);
});

Deno.test("a flooding IP's accepted connection paid its reservation token: its RESERVE is granted", () => {
  const { clock, limiter, attempt } = setup();
  flood(attempt, FLOODER, 3);
  clock.advance(1_000); // one token back
  assert.ok(limiter.checkConnection(FLOODER).ok, "the refilled token pays for one connection");
  assert.equal(reason(limiter.checkConnection(FLOODER)), "reservation_quota");
  // The paid connection's RESERVE does not need another token from the (now empty) bucket.
  assert.ok(limiter.checkReservation("behind-the-nat", FLOODER).ok);
  // A second RESERVE on that credit is the per-IP rate's again.
  assert.equal(reason(limiter.checkReservation("another", FLOODER)), "rate_ip");
});

Deno.test("peers behind one NAT that stay within reservations_per_ip are never gated", () => {
  const { clock, limiter } = setup();
  // 4 peers reserve at once (the burst), then each renews once per second for a minute:
  // exactly the per-IP rate, never above it.
  for (let peer = 0; peer < 4; peer++) {
    assert.ok(limiter.checkConnection(FLOODER).ok);
    assert.ok(limiter.checkReservation(`nat-${peer}`, FLOODER).ok);
  }
  for (let second = 0; second < 60; second++) {
    clock.advance(1_000);
    assert.ok(limiter.checkConnection(FLOODER).ok);
    assert.ok(limiter.checkReservation(`nat-${second % 4}`, FLOODER).ok);
  }
  // Two refusals (fewer than N) in a window do not make it flooding.
  assert.equal(reason(limiter.checkReservation("nat-extra-1", FLOODER)), "rate_ip");
  assert.equal(reason(limiter.checkReservation("nat-extra-2", FLOODER)), "rate_ip");
  assert.ok(limiter.checkConnection(FLOODER).ok);
  assert.equal(limiter.trackedKeys().reservation_flooding_ips, 0);
});

Deno.test("a flooding IP is let back in after a window without refusals; 0 turns the gate off", async (t) => {
  await t.step("the window", () => {
    const { clock, limiter, attempt } = setup();
    flood(attempt, FLOODER, 3);
    clock.advance(RESERVATION_FLOOD_WINDOW_MS - 1);
    // Still flooding (the tokens that came back are taken at accept, then it is refused).
    const during = Array.from({ length: 12 }, () => limiter.checkConnection(FLOODER).ok);
    assert.ok(during.includes(false), "still gated inside the window");
    clock.advance(RESERVATION_FLOOD_WINDOW_MS);
    limiter.sweep();
    assert.equal(limiter.trackedKeys().reservation_flooding_ips, 0);
    for (let i = 0; i < 20; i++) assert.ok(limiter.checkConnection(FLOODER).ok);
  });
  await t.step("off", () => {
    const { limiter, attempt } = setup({ reservationFloodRefusals: 0 });
    // 24 of the 40 connection tokens: the connection rate alone would allow the next 16.
    flood(attempt, FLOODER, 20);
    for (let i = 0; i < 16; i++) assert.ok(limiter.checkConnection(FLOODER).ok);
  });
  await t.step("a bad value is refused", () => {
    assert.throws(() => setup({ reservationFloodRefusals: -1 }), /reservationFloodRefusals/);
  });
});
