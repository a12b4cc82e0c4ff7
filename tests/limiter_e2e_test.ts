// End-to-end rate limiting: the real hopd program under a flood of stock js-libp2p clients
// from one address (::1) while a well-behaved pair on another (127.0.0.1) keeps its service,
// and the ops server's per-IP HTTP limit.
import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { spawnHopd } from "./_helpers/hopd_process.ts";
import { DUAL_STACK_LISTEN, sampleSum, scrapeMetrics, tcpAddr } from "./_helpers/ops_probe.ts";
import { canReserve } from "./_helpers/reserving_client.ts";
// @ts-types="./interop/relay_echo_client.d.ts"
import {
  createClient,
  ECHO_PROTOCOL,
  echoThrough,
  serveEcho,
  waitForCircuitAddr,
} from "./interop/relay_echo_client.mjs";

const ONE_MIB = 1024 * 1024;
const FLOOD_CLIENTS = 50;
const CONNECTIONS_RATE = 5;
const CONNECTIONS_BURST = 10;
const RESERVATIONS_RATE = 2;
const RESERVATIONS_BURST = 4;

/** A pair on 127.0.0.1: A reserves, B echoes `size` bytes to A through hopd. */
async function wellBehavedEcho(relay: string, size: number) {
  const a = await createClient([`${relay}/p2p-circuit`]);
  const b = await createClient();
  try {
    await serveEcho(a);
    const circuitAddr = await waitForCircuitAddr(a);
    const stream = await b.dialProtocol(multiaddr(circuitAddr.toString()), ECHO_PROTOCOL, {
      runOnLimitedConnection: true,
    });
    return await echoThrough(stream, size);
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
  }
}

Deno.test("a flood of clients from one IP is refused beyond its connection and reservation rates while a client on another IP is served", async () => {
  const hopd = await spawnHopd({
    loopbackListeners: false,
    args: DUAL_STACK_LISTEN,
    env: {
      HOPD_RELAY_CIRCUIT_DATA: "0",
      HOPD_RELAY_CIRCUIT_DURATION: "0",
      HOPD_LIMITS_CONNECTIONS_PER_IP: `${CONNECTIONS_RATE}/s`,
      HOPD_LIMITS_CONNECTIONS_PER_IP_BURST: String(CONNECTIONS_BURST),
      HOPD_LIMITS_RESERVATIONS_PER_IP: `${RESERVATIONS_RATE}/s`,
      HOPD_LIMITS_RESERVATIONS_PER_IP_BURST: String(RESERVATIONS_BURST),
    },
  });
  try {
    const attacker = tcpAddr(hopd.listenAddrs, "ip6");
    const client = tcpAddr(hopd.listenAddrs, "ip4");
    const startedAt = performance.now();
    const [outcomes, echo] = await Promise.all([
      Promise.all(Array.from({ length: FLOOD_CLIENTS }, () => canReserve(attacker))),
      wellBehavedEcho(client, ONE_MIB),
    ]);
    const elapsedS = (performance.now() - startedAt) / 1000;

    assert.equal(echo.received, ONE_MIB);
    assert.ok(echo.intact, "the well-behaved pair's echo came back corrupted");

    const reserved = outcomes.filter(Boolean).length;
    // Every granted reservation took a token from the ::1 bucket: at most the burst plus
    // what refilled while the flood ran (one token of slack for timer rounding).
    const bound = RESERVATIONS_BURST + RESERVATIONS_RATE * elapsedS + 1;
    console.log(
      `flood: ${reserved}/${FLOOD_CLIENTS} reserved in ${elapsedS.toFixed(2)} s (bound ${
        bound.toFixed(1)
      })`,
    );
    assert.ok(reserved > 0, "no flood client got through at all: the limit is not a rate");
    assert.ok(reserved <= bound, `${reserved} reservations from ::1 exceed ${bound.toFixed(1)}`);

    const samples = await scrapeMetrics(hopd.opsUrl);
    const refusedConnections = sampleSum(samples, "hopd_rate_limited_total", {
      limiter: "connection",
      reason: "rate_ip",
    });
    const refusedReservations = sampleSum(samples, "hopd_rate_limited_total", {
      limiter: "reservation",
      reason: "rate_ip",
    });
    console.log(
      `flood: refused ${refusedConnections} connections and ${refusedReservations} reservations`,
    );
    const admittedConnections = CONNECTIONS_BURST + CONNECTIONS_RATE * elapsedS + 1;
    // Each flood client connects once: those past the connection bucket are refused there.
    assert.ok(
      refusedConnections >= FLOOD_CLIENTS - admittedConnections,
      `only ${refusedConnections} connections refused`,
    );
    assert.ok(refusedReservations > 0, "no reservation was refused for its rate");
    assert.equal(
      sampleSum(samples, "hopd_rate_limited_total", { reason: "rate_global" }),
      0,
      "the flood must hit its own IP's buckets, not the global ones",
    );

    const [health, ready] = await Promise.all([
      fetch(`${hopd.opsUrl}/health`),
      fetch(`${hopd.opsUrl}/ready`),
    ]);
    await Promise.all([health.body?.cancel(), ready.body?.cancel()]);
    assert.equal(health.status, 200);
    assert.equal(ready.status, 200);
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("an IP past its reservation rate with fresh identities is refused at accept, before any handshake, while another IP reserves", async () => {
  const hopd = await spawnHopd({
    loopbackListeners: false,
    args: DUAL_STACK_LISTEN,
    env: {
      // Two reservations per IP, then one per 10 s: nothing refills during the test.
      HOPD_LIMITS_RESERVATIONS_PER_IP: "1/10s",
      HOPD_LIMITS_RESERVATIONS_PER_IP_BURST: "2",
      HOPD_LIMITS_RESERVATION_FLOOD_REFUSALS: "2",
    },
  });
  try {
    const attacker = tcpAddr(hopd.listenAddrs, "ip6");
    const client = tcpAddr(hopd.listenAddrs, "ip4");
    // One fresh identity after another from ::1: the burst is granted, then two RESERVEs are
    // refused for the per-IP rate, which makes ::1 flooding.
    const outcomes: boolean[] = [];
    for (let i = 0; i < 4; i++) outcomes.push(await canReserve(attacker));
    assert.deepEqual(outcomes, [true, true, false, false]);
    const before = await scrapeMetrics(hopd.opsUrl);
    assert.equal(
      sampleSum(before, "hopd_rate_limited_total", { limiter: "reservation", reason: "rate_ip" }),
      2,
    );

    // The next fresh identity from ::1 is reset when its socket is accepted: no Noise
    // handshake, no RESERVE reaches the relay.
    assert.equal(await canReserve(attacker), false);
    const after = await scrapeMetrics(hopd.opsUrl);
    assert.ok(
      sampleSum(after, "hopd_socket_refusals_total", { reason: "reservation_quota" }) >= 1,
      "the socket guard did not refuse the flooding IP's connection",
    );
    assert.ok(
      sampleSum(after, "hopd_rate_limited_total", {
        limiter: "connection",
        reason: "reservation_quota",
      }) >= 1,
    );
    assert.equal(
      sampleSum(after, "hopd_rate_limited_total", { limiter: "reservation", reason: "rate_ip" }),
      2,
      "a RESERVE of the flooding IP reached the relay",
    );
    // A client from another address still reserves.
    assert.equal(await canReserve(client), true);
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("the ops server answers 429 with Retry-After past http_requests_per_ip, but never throttles /ready and /metrics", async () => {
  const hopd = await spawnHopd({
    // Per minute, not per second: a loaded machine may take a second over four requests.
    env: { HOPD_LIMITS_HTTP_REQUESTS_PER_IP: "1/m", HOPD_LIMITS_HTTP_REQUESTS_PER_IP_BURST: "3" },
  });
  try {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 4; i++) {
      const response = await fetch(`${hopd.opsUrl}/v1/status`);
      statuses.push(response.status);
      if (response.status === 429) limited = response;
      else await response.body?.cancel();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const retryAfter = Number(limited!.headers.get("retry-after"));
    // The next request's token comes a minute after the burst was spent, less the seconds gone.
    assert.ok(retryAfter >= 50 && retryAfter <= 60, `Retry-After is ${retryAfter}`);
    assert.equal((await limited!.json()).error.code, "RATE_LIMITED");

    for (const path of ["/ready", "/metrics", "/health", "/ready", "/metrics"]) {
      const response = await fetch(`${hopd.opsUrl}${path}`);
      await response.body?.cancel();
      assert.equal(response.status, 200, `${path} was throttled`);
    }
    const samples = await scrapeMetrics(hopd.opsUrl);
    assert.equal(
      sampleSum(samples, "hopd_rate_limited_total", { limiter: "http", reason: "rate_ip" }),
      1,
    );
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});
