/**
 * End-to-end runs of hopd's relay against STOCK js-libp2p clients (createLibp2p +
 * circuitRelayTransport from @libp2p/circuit-relay-v2, none of hopd's code on the client
 * side), over real sockets on 127.0.0.1. A few cases use a raw hop client to read exact
 * statuses and the voucher.
 *
 * libp2p leaves internal timers (identify, dial queues, yamux keep-alive) running briefly
 * after `stop()`, so these tests disable Deno's op/resource sanitizers.
 */

import assert from "node:assert/strict";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { RecordEnvelope } from "@libp2p/peer-record";
import { echo } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { Multiaddr } from "@multiformats/multiaddr";
import { CIRCUIT_READ_BUFFER_BYTES } from "../src/relay/constants.ts";
import { decodeReservationVoucher } from "../src/relay/pb/circuit.ts";
import { ManualClock } from "../src/clock/mod.ts";
import {
  connectionClosed,
  hopExchange,
  metricValue,
  type RelayFixture,
  startPlainClient,
  startRelay,
  startStockClient,
  untilRelay,
} from "./relay_helpers.ts";
// @ts-types="./interop/relay_echo_client.d.ts"
import { waitForCircuitAddr } from "./interop/relay_echo_client.mjs";

const ECHO = "/hopd-test/echo/1.0.0";
const MIB = 1024 * 1024;
const sanitizers = { sanitizeOps: false, sanitizeResources: false };

/** Starts a stock client that reserves on the relay at `relayAddr` and echoes. */
async function startListener(relayAddr: Multiaddr): Promise<{ node: Libp2p; circuit: Multiaddr }> {
  const node = await startStockClient([`${relayAddr.toString()}/p2p-circuit`]);
  await node.handle(ECHO, (stream) => {
    // libp2p's echo() pauses the stream while its writes drain, and a paused yamux stream
    // stops granting window; but the window it already granted may have grown to 16 MiB
    // (yamux's maxStreamWindowSize), so the peer can still send that much, past the stream's
    // stock 4 MiB read buffer, which resets the stream. That once failed CI on the 8 MiB echo
    // over WS. hopd raises the limit on its relayed streams for the same reason
    // (CIRCUIT_READ_BUFFER_BYTES); this client does the same.
    stream.maxReadBufferLength = CIRCUIT_READ_BUFFER_BYTES;
    void echo(stream).catch(() => {});
  }, { runOnLimitedConnection: true });
  await waitForCircuitAddr(node, 10_000);
  const circuit = multiaddr(`${relayAddr.toString()}/p2p-circuit/p2p/${node.peerId.toString()}`);
  return { node, circuit };
}

/** Sends `payload` with backpressure and resolves with everything echoed back. */
async function echoThrough(stream: Stream, payload: Uint8Array): Promise<Uint8Array> {
  const received = new Uint8Array(payload.byteLength);
  let offset = 0;
  const done = new Promise<void>((resolve, reject) => {
    stream.addEventListener("message", (evt) => {
      const chunk = evt.data.subarray();
      received.set(chunk, offset);
      offset += chunk.byteLength;
      if (offset >= payload.byteLength) resolve();
    });
    stream.addEventListener("close", (evt) => {
      if (offset < payload.byteLength) {
        reject(evt.error ?? new Error(`closed after ${offset} bytes`));
      }
    });
  });
  done.catch(() => {});
  const chunkBytes = 64 * 1024;
  try {
    for (let i = 0; i < payload.byteLength; i += chunkBytes) {
      if (!stream.send(payload.subarray(i, i + chunkBytes))) await stream.onDrain();
    }
  } catch {
    // The stream died while sending; `done` says how.
  }
  await done;
  return received;
}

/** Stops the clients, checks the relay let go of everything they held, stops the relay. */
async function stopAll(fixture: RelayFixture, ...nodes: Libp2p[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
  try {
    assert.ok(
      await untilRelay(fixture.relay, () => {
        const { reservations, circuits } = fixture.relay.stats();
        return reservations === 0 && circuits === 0;
      }),
      `relay still holds ${JSON.stringify(fixture.relay.stats())}`,
    );
  } finally {
    await fixture.stop();
  }
}

for (const transport of ["tcp", "ws"] as const) {
  Deno.test({
    name: `stock clients relay 8 MiB intact through hopd over ${transport}`,
    ...sanitizers,
    async fn() {
      const fixture = await startRelay({ circuitDataBytes: 0, maxReservationsPerIp: 0 });
      const relayAddr = transport === "tcp" ? fixture.tcpAddr : fixture.wsAddr;
      const a = await startListener(relayAddr);
      const b = await startStockClient();
      try {
        assert.equal(fixture.relay.stats().reservations, 1);
        const stream = await b.dialProtocol(a.circuit, ECHO, { runOnLimitedConnection: true });
        const payload = crypto.getRandomValues(new Uint8Array(65_536));
        const big = new Uint8Array(8 * MIB);
        for (let i = 0; i < big.byteLength; i += payload.byteLength) big.set(payload, i);
        big[12_345] = 0xa5;
        const echoed = await echoThrough(stream, big);
        assert.deepEqual(echoed, big);
        assert.equal(fixture.relay.stats().circuits, 1);
        await stream.close();
        await b.hangUp(a.node.peerId);
        assert.ok(await untilRelay(fixture.relay, () => fixture.relay.stats().circuits === 0));
        const stats = fixture.relay.stats();
        assert.ok(stats.bytesRelayed >= 16 * MIB, `relayed ${stats.bytesRelayed}`);
        assert.ok(
          await metricValue(fixture.registry, "hopd_relayed_bytes_total", {
            direction: "src_to_dst",
          }) >=
            8 * MIB,
        );
      } finally {
        await stopAll(fixture, a.node, b);
      }
    },
  });
}

Deno.test({
  name: "stock client sees the advertised data limit and the circuit is cut at it",
  ...sanitizers,
  async fn() {
    const limitBytes = 64 * 1024;
    const fixture = await startRelay({ circuitDataBytes: limitBytes, circuitDurationMs: 0 });
    const a = await startListener(fixture.tcpAddr);
    const b = await startStockClient();
    try {
      const conn = await b.dial(a.circuit);
      assert.ok(conn.limits?.bytes !== undefined, "no data limit advertised");
      assert.ok(conn.limits.bytes <= BigInt(limitBytes) && conn.limits.bytes > 0n);
      assert.equal(conn.limits.seconds, undefined, "duration 0 must not be advertised");
      const stream = await conn.newStream(ECHO, { runOnLimitedConnection: true });
      await assert.rejects(echoThrough(stream, new Uint8Array(MIB)));
      assert.ok(await untilRelay(fixture.relay, () => fixture.relay.stats().circuits === 0));
      assert.equal(
        await metricValue(fixture.registry, "hopd_circuits_closed_total", { reason: "data_limit" }),
        1,
      );
      const up = await metricValue(fixture.registry, "hopd_relayed_bytes_total", {
        direction: "src_to_dst",
      });
      const down = await metricValue(fixture.registry, "hopd_relayed_bytes_total", {
        direction: "dst_to_src",
      });
      assert.ok(up <= limitBytes && down <= limitBytes, `relayed ${up}/${down}`);
      assert.ok(Math.max(up, down) === limitBytes, `no direction reached the limit: ${up}/${down}`);
      // The operator's view: one circuit ended by the relay, with every byte it relayed.
      const sizes = await fixture.registry.values("hopd_circuit_bytes");
      const relayEnded = (suffix: string) =>
        sizes.find((v) =>
          v.metricName === `hopd_circuit_bytes_${suffix}` &&
          v.labels.ended_by === "relay"
        )?.value;
      assert.equal(relayEnded("count"), 1);
      assert.equal(relayEnded("sum"), up + down);
    } finally {
      await stopAll(fixture, a.node, b);
    }
  },
});

Deno.test({
  name: "stock client sees the advertised duration in seconds and the circuit is cut after it",
  ...sanitizers,
  async fn() {
    // The relay's clock: the test moves it to the limit instead of waiting 2 s. It starts at
    // the wall clock: the client checks the reservation's expiry against its own.
    const clock = new ManualClock(Date.now());
    const fixture = await startRelay({ circuitDataBytes: 0, circuitDurationMs: 2_000 }, clock);
    const a = await startListener(fixture.tcpAddr);
    const b = await startStockClient();
    try {
      const conn: Connection = await b.dial(a.circuit);
      assert.equal(conn.limits?.seconds, 2);
      assert.equal(conn.limits?.bytes, undefined, "data 0 must not be advertised");
      assert.ok(await untilRelay(fixture.relay, () => fixture.relay.stats().circuits === 1));
      clock.advance(1_999);
      assert.equal(fixture.relay.stats().circuits, 1, "cut before its limit");
      clock.advance(1);
      assert.ok(await untilRelay(fixture.relay, () => fixture.relay.stats().circuits === 0));
      assert.ok(await connectionClosed(b, conn), "the client's relayed connection outlived it");
      assert.equal(
        await metricValue(fixture.registry, "hopd_circuits_closed_total", {
          reason: "duration_limit",
        }),
        1,
      );
    } finally {
      await stopAll(fixture, a.node, b);
    }
  },
});

Deno.test({
  name: "relay answers RESERVE with expiry, its addrs, a valid signed voucher and the limit",
  ...sanitizers,
  async fn() {
    const fixture = await startRelay({ reservationTtlMs: 60_000 });
    const client = await startPlainClient();
    try {
      const conn = await client.dial(fixture.tcpAddr);
      const before = Math.floor(Date.now() / 1000);
      const { response } = await hopExchange(conn, { type: "RESERVE" });
      assert.equal(response.status, "OK");
      const rsv = response.reservation;
      assert.ok(rsv?.expire !== undefined && rsv.voucher !== undefined);
      assert.ok(Number(rsv.expire) >= before + 59 && Number(rsv.expire) <= before + 61);
      assert.ok(rsv.addrs.length >= 2);
      assert.ok(
        rsv.addrs.every((a) => multiaddr(a).toString().includes(fixture.node.peerId.toString())),
      );
      assert.deepEqual(response.limit, { duration: 120, data: 131_072n });
      const envelope = await RecordEnvelope.openAndCertify(rsv.voucher, "libp2p-relay-rsvp");
      assert.deepEqual([...envelope.payloadType], [0x03, 0x02]);
      const voucher = decodeReservationVoucher(envelope.payload);
      assert.deepEqual([...voucher.peer], [...client.peerId.toMultihash().bytes]);
      assert.deepEqual([...voucher.relay], [...fixture.node.peerId.toMultihash().bytes]);
      assert.equal(voucher.expiration, rsv.expire);
      // A second RESERVE renews: still one reservation.
      const again = await hopExchange(conn, { type: "RESERVE" });
      assert.equal(again.response.status, "OK");
      assert.equal(fixture.relay.stats().reservations, 1);
    } finally {
      await stopAll(fixture, client);
    }
  },
});

Deno.test({
  name:
    "relay refuses reservations over the per-IP and total limits and frees a slot on disconnect",
  ...sanitizers,
  async fn(t) {
    for (const limit of ["maxReservationsPerIp", "maxReservations"] as const) {
      await t.step(limit, async () => {
        const fixture = await startRelay({ [limit]: 1 });
        const first = await startPlainClient();
        const second = await startPlainClient();
        try {
          const c1 = await first.dial(fixture.tcpAddr);
          assert.equal((await hopExchange(c1, { type: "RESERVE" })).response.status, "OK");
          const c2 = await second.dial(fixture.tcpAddr);
          const refused = await hopExchange(c2, { type: "RESERVE" });
          assert.equal(refused.response.status, "RESERVATION_REFUSED");
          assert.equal(refused.response.reservation, undefined);
          const reason = limit === "maxReservations" ? "total_limit" : "ip_limit";
          assert.equal(await metricValue(fixture.registry, "hopd_refusals_total", { reason }), 1);
          // The first peer leaves: its slot is free at once (no waiting for expiry).
          await first.hangUp(fixture.node.peerId);
          assert.ok(
            await untilRelay(fixture.relay, () => fixture.relay.stats().reservations === 0),
          );
          assert.equal((await hopExchange(c2, { type: "RESERVE" })).response.status, "OK");
        } finally {
          await stopAll(fixture, first, second);
        }
      });
    }
  },
});

Deno.test({
  name: "relay answers CONNECT to an unreserved peer with NO_RESERVATION",
  ...sanitizers,
  async fn() {
    const fixture = await startRelay();
    const client = await startPlainClient();
    const other = await startPlainClient();
    try {
      const conn = await client.dial(fixture.tcpAddr);
      const { response } = await hopExchange(conn, {
        type: "CONNECT",
        peer: { id: other.peerId.toMultihash().bytes, addrs: [] },
      });
      assert.equal(response.status, "NO_RESERVATION");
      assert.equal(fixture.relay.stats().circuits, 0);
      assert.equal(
        await metricValue(fixture.registry, "hopd_refusals_total", { reason: "no_reservation" }),
        1,
      );
    } finally {
      await stopAll(fixture, client, other);
    }
  },
});

Deno.test({
  name: "draining refuses new reservations but renews held ones",
  ...sanitizers,
  async fn() {
    const fixture = await startRelay();
    const held = await startPlainClient();
    const fresh = await startPlainClient();
    try {
      const c1 = await held.dial(fixture.tcpAddr);
      assert.equal((await hopExchange(c1, { type: "RESERVE" })).response.status, "OK");
      fixture.relay.setDraining(true);
      const c2 = await fresh.dial(fixture.tcpAddr);
      assert.equal(
        (await hopExchange(c2, { type: "RESERVE" })).response.status,
        "RESERVATION_REFUSED",
      );
      assert.equal((await hopExchange(c1, { type: "RESERVE" })).response.status, "OK");
      assert.equal(fixture.relay.stats().reservations, 1);
      assert.equal(fixture.relay.stats().draining, true);
    } finally {
      await stopAll(fixture, held, fresh);
    }
  },
});
