/**
 * RelayServer on a real libp2p host on 127.0.0.1 with stock js-libp2p clients
 * (circuitRelayTransport) and raw hop exchanges: what the server adds around the hop handler,
 * namely its listings, the voucher signed with the host's key, reservations freed on
 * disconnect, draining, and stop() tearing down circuits and reservations.
 */

import assert from "node:assert/strict";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Connection, Libp2p, PeerId, PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { RecordEnvelope } from "@libp2p/peer-record";
import { tcp } from "@libp2p/tcp";
import { captureLogs } from "../log/testing.ts";
import { multiaddr } from "@multiformats/multiaddr";
import { MetricsRegistry } from "../metrics/mod.ts";
import { defaultConfig } from "../config/mod.ts";
import { loopbackNode } from "../host/testing.ts";
import { encodeFrame, FrameReader } from "./_framing.ts";
import { HOP_PROTOCOL, RELAY_EVENTS, VOUCHER_DOMAIN } from "./constants.ts";
import type { ResolvedRelayConfig } from "./mod.ts";
import { decodeHopMessage, decodeReservationVoucher, encodeHopMessage } from "./pb/circuit.ts";
import type { HopMessage } from "./pb/circuit.ts";
import { RelayServer } from "./relay_server.ts";

const ECHO_PROTOCOL = "/hopd-test/echo/1.0.0";

interface Rig {
  node: Libp2p;
  server: RelayServer;
  privateKey: PrivateKey;
  refused: [string, string][];
  clients: Libp2p[];
}

/** A relay host on 127.0.0.1 with a started RelayServer; `run` gets it, then all stops. */
async function withRelay(
  overrides: Partial<ResolvedRelayConfig>,
  run: (rig: Rig) => Promise<void>,
  announce: string[] = [],
): Promise<void> {
  const privateKey = await generateKeyPair("Ed25519");
  const node = await loopbackNode({
    privateKey,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"], appendAnnounce: announce },
    services: { identify: identify() },
  });
  const refused: [string, string][] = [];
  const server = new RelayServer({ ...defaultConfig().relay, ...overrides }, {
    libp2p: node,
    registry: new MetricsRegistry(),
    privateKeyProtobuf: privateKeyToProtobuf(privateKey),
    onReservationRefused: (peer, reason) => refused.push([peer, reason]),
  });
  await server.start();
  const rig: Rig = { node, server, privateKey, refused, clients: [] };
  try {
    await run(rig);
  } finally {
    await server.stop();
    await Promise.all([...rig.clients, node].map((n) => n.stop()));
  }
}

/** A stock client; with `reserve`, it listens on the relay and resolves once it holds a reservation. */
async function stockClient(rig: Rig, reserve: boolean): Promise<Libp2p> {
  const client = await loopbackNode({
    addresses: { listen: reserve ? [`${relayAddr(rig)}/p2p-circuit`] : [] },
    transports: [tcp(), circuitRelayTransport()],
    services: { identify: identify() },
    start: false,
  });
  rig.clients.push(client);
  if (!reserve) {
    await client.start();
    return client;
  }
  const reserved = Promise.withResolvers<void>();
  client.addEventListener("self:peer:update", () => {
    if (client.getMultiaddrs().some((ma) => ma.toString().includes("/p2p-circuit"))) {
      reserved.resolve();
    }
  });
  await client.start();
  await reserved.promise;
  return client;
}

/** The relay host's TCP address (with /p2p/<relay>). */
function relayAddr(rig: Rig): string {
  return rig.node.getMultiaddrs().find((ma) => ma.toString().startsWith("/ip4/127.0.0.1/"))!
    .toString();
}

async function newPeerId(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
}

async function hop(connection: Connection, request: HopMessage): Promise<HopMessage> {
  const stream = await connection.newStream(HOP_PROTOCOL);
  const reader = new FrameReader(stream, 4096);
  stream.send(encodeFrame(encodeHopMessage(request)));
  return decodeHopMessage(await reader.read());
}

/** Resolves when `node` sees `peer` disconnect. */
function disconnected(node: Libp2p, peer: PeerId): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  node.addEventListener("peer:disconnect", (evt) => {
    if (evt.detail.equals(peer)) resolve();
  });
  return promise;
}

Deno.test("RelayServer lists a stock client's reservation, and frees it when the client disconnects", async () => {
  using logs = captureLogs(["hopd", "relay"], "debug");
  const { records } = logs;
  await withRelay({ reservationTtlMs: 60_000 }, async (rig) => {
    const told: number[] = [];
    rig.server.events.addEventListener(
      RELAY_EVENTS.reservation,
      () => told.push(rig.server.stats().reservations),
    );
    const before = Date.now();
    const client = await stockClient(rig, true);
    const after = Date.now();
    const listed = rig.server.reservations();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.peer, client.peerId.toString());
    assert.equal(listed[0]!.ip, "127.0.0.1");
    const expiresAt = Date.parse(listed[0]!.expiresAt);
    assert.ok(expiresAt >= before + 60_000 && expiresAt <= after + 60_000, listed[0]!.expiresAt);
    const stats = rig.server.stats();
    assert.equal(stats.reservations, 1);
    assert.equal(stats.reservationsAccepted, 1);
    // The stock client builds its circuit address from the relay addrs the answer carried.
    assert.ok(
      client.getMultiaddrs().some((ma) =>
        ma.toString() === `${relayAddr(rig)}/p2p-circuit/p2p/${client.peerId}`
      ),
    );

    // Spec: a reservation is valid only while the peer stays connected.
    const gone = disconnected(rig.node, client.peerId);
    await client.stop();
    await gone;
    assert.deepEqual(rig.server.reservations(), []);
    assert.equal(rig.server.stats().reservations, 0);
    // Its events told of both, each after the change.
    assert.deepEqual(told, [1, 0]);
    // And the end is logged at debug (an operator's, and an end-to-end test's, event).
    const ended = records.filter((r) => String(r.rawMessage).startsWith("Reservation of"));
    assert.deepEqual(ended.map((r) => [r.level, r.properties.peer]), [[
      "debug",
      client.peerId.toString(),
    ]]);
  });
});

Deno.test("RelayServer signs the voucher with its host's key, and answers with its addrs but no circuit addrs", async () => {
  // The host also holds an address through another relay; a circuit address is no relay addr.
  const elsewhere = await newPeerId();
  const announce = [`/ip4/192.0.2.1/tcp/4001/p2p/${elsewhere}/p2p-circuit`];
  await withRelay({ reservationTtlMs: 60_000 }, async (rig) => {
    assert.ok(rig.node.getMultiaddrs().some((ma) => ma.toString().includes("/p2p-circuit")));
    const client = await stockClient(rig, false);
    const connection = await client.dial(multiaddr(relayAddr(rig)));
    const answer = await hop(connection, { type: "RESERVE" });
    assert.equal(answer.status, "OK");
    const reservation = answer.reservation!;
    const envelope = await RecordEnvelope.openAndCertify(reservation.voucher!, VOUCHER_DOMAIN);
    assert.ok(envelope.publicKey.equals(rig.privateKey.publicKey));
    const voucher = decodeReservationVoucher(envelope.payload);
    assert.deepEqual([...voucher.relay], [...rig.node.peerId.toMultihash().bytes]);
    assert.deepEqual([...voucher.peer], [...client.peerId.toMultihash().bytes]);
    assert.equal(voucher.expiration, reservation.expire);
    const addrs = reservation.addrs.map((bytes) => multiaddr(bytes).toString());
    assert.deepEqual(addrs, [relayAddr(rig)]);
  }, announce);
});

Deno.test("RelayServer refuses new reservations while draining, still renews held ones, and serves again after", async () => {
  await withRelay({}, async (rig) => {
    const [held, fresh] = [await stockClient(rig, false), await stockClient(rig, false)];
    const heldConnection = await held.dial(multiaddr(relayAddr(rig)));
    const freshConnection = await fresh.dial(multiaddr(relayAddr(rig)));
    assert.equal((await hop(heldConnection, { type: "RESERVE" })).status, "OK");

    rig.server.setDraining(true);
    assert.equal(rig.server.stats().draining, true);
    assert.equal((await hop(freshConnection, { type: "RESERVE" })).status, "RESERVATION_REFUSED");
    assert.equal((await hop(heldConnection, { type: "RESERVE" })).status, "OK");
    assert.deepEqual(rig.refused, [
      [fresh.peerId.toString(), "draining"],
    ]);
    assert.equal(rig.server.stats().refusals, 1);

    rig.server.setDraining(false);
    assert.equal(rig.server.stats().draining, false);
    assert.equal((await hop(freshConnection, { type: "RESERVE" })).status, "OK");
    assert.equal(rig.server.stats().reservations, 2);
  });
});

Deno.test("RelayServer lists an open circuit with its bytes, and stop() resets it and drops every reservation", async () => {
  await withRelay({}, async (rig) => {
    const target = await stockClient(rig, true);
    await target.handle(ECHO_PROTOCOL, async (stream) => {
      for await (const chunk of stream) stream.send(chunk);
      await stream.close();
    }, { runOnLimitedConnection: true });
    const source = await stockClient(rig, false);
    const circuitAddr = multiaddr(`${relayAddr(rig)}/p2p-circuit/p2p/${target.peerId}`);
    const stream = await source.dialProtocol(circuitAddr, ECHO_PROTOCOL, {
      runOnLimitedConnection: true,
    });
    const echoed = Promise.withResolvers<void>();
    let received = 0;
    stream.addEventListener("message", (evt) => {
      received += evt.data.byteLength;
      if (received === 1000) echoed.resolve();
    });
    stream.send(new Uint8Array(1000));
    await echoed.promise;

    const circuits = rig.server.circuits();
    assert.equal(circuits.length, 1);
    assert.equal(circuits[0]!.source, source.peerId.toString());
    assert.equal(circuits[0]!.target, target.peerId.toString());
    // The circuit carries the end-to-end encrypted connection: the echo plus its framing.
    assert.ok(circuits[0]!.bytesSrcToDst >= 1000, String(circuits[0]!.bytesSrcToDst));
    assert.ok(circuits[0]!.bytesDstToSrc >= 1000, String(circuits[0]!.bytesDstToSrc));
    assert.ok(circuits[0]!.ageSeconds >= 0);
    const stats = rig.server.stats();
    assert.equal(stats.circuits, 1);
    assert.equal(stats.circuitsOpened, 1);
    assert.ok(stats.bytesRelayed >= circuits[0]!.bytesSrcToDst + circuits[0]!.bytesDstToSrc);

    const relayed = source.getConnections(target.peerId)[0]!;
    const closed = Promise.withResolvers<void>();
    source.addEventListener("connection:close", (evt) => {
      if (evt.detail === relayed) closed.resolve();
    });
    await rig.server.stop();
    assert.equal(rig.server.stats().circuits, 0);
    assert.deepEqual(rig.server.circuits(), []);
    assert.deepEqual(rig.server.reservations(), []);
    await closed.promise;
    assert.ok(!rig.node.getProtocols().includes(HOP_PROTOCOL));
    // Stopped twice is a no-op; started again, it serves again.
    await rig.server.stop();
    await rig.server.start();
    await rig.server.start();
    assert.deepEqual(rig.node.getProtocols().filter((p) => p === HOP_PROTOCOL), [HOP_PROTOCOL]);
    const again = await source.dial(multiaddr(relayAddr(rig)));
    assert.equal((await hop(again, { type: "RESERVE" })).status, "OK");
  });
});
