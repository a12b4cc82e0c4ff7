/**
 * The hop handler's state machine over in-memory stream pairs (@libp2p/utils streamPair)
 * with fake connections: every status the spec defines, bad bytes, timeouts, and the slot
 * accounting around circuit setup.
 */

import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { streamPair } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { MetricsRegistry } from "../metrics/mod.ts";
import { encodeFrame, FrameReader } from "./_framing.ts";
import { defaultConfig } from "../config/mod.ts";
import { type Circuit, CircuitSlots } from "./circuit.ts";
import { HopHandler, peerKey } from "./hop_handler.ts";
import { RelayMetrics } from "./metrics.ts";
import type { ResolvedRelayConfig } from "./mod.ts";
import {
  decodeHopMessage,
  decodeStopMessage,
  encodeHopMessage,
  encodeStopMessage,
} from "./pb/circuit.ts";
import type { HopMessage, Status } from "./pb/circuit.ts";
import { ReservationStore } from "./reservation_store.ts";
import { ManualClock } from "../clock/mod.ts";

async function newPeer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
}

function fakeConnection(
  remotePeer: PeerId,
  addr = "/ip4/10.0.0.1/tcp/4001",
  newStream?: () => Promise<Stream>,
): Connection {
  return {
    remotePeer,
    remoteAddr: multiaddr(addr),
    limits: undefined,
    status: "open",
    newStream: newStream ?? (() => Promise.reject(new Error("no streams"))),
  } as unknown as Connection;
}

/** The handler's circuits, telling a waiting test when one is removed (its circuit ended). */
class CircuitSet extends Set<Circuit> {
  #waiters: (() => void)[] = [];
  override delete(circuit: Circuit): boolean {
    const deleted = super.delete(circuit);
    for (const wake of this.#waiters.splice(0)) wake();
    return deleted;
  }
  /** Resolves once every circuit has ended. */
  async emptied(): Promise<void> {
    while (this.size > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

interface Harness {
  handler: HopHandler;
  clock: ManualClock;
  store: ReservationStore<PeerId>;
  slots: CircuitSlots;
  circuits: CircuitSet;
  metrics: RelayMetrics;
  registry: MetricsRegistry;
  connections: Map<string, Connection[]>;
}

function harness(overrides: Partial<ResolvedRelayConfig> = {}): Harness {
  const config = { ...defaultConfig().relay, ...overrides };
  const clock = new ManualClock();
  const store = new ReservationStore<PeerId>({
    clock,
    ttlMs: config.reservationTtlMs,
    maxReservations: config.maxReservations,
    maxPerIp: config.maxReservationsPerIp,
    maxPerSubnet: config.maxReservationsPerSubnet,
  });
  const slots = new CircuitSlots(config.maxCircuits, config.maxCircuitsPerPeer);
  const circuits = new CircuitSet();
  const registry = new MetricsRegistry();
  const metrics = new RelayMetrics(registry, {
    reservations: () => store.size,
    circuits: () => circuits.size,
    flushBytes: () => {},
  });
  const connections = new Map<string, Connection[]>();
  const handler = new HopHandler({
    config,
    clock,
    store,
    slots,
    metrics,
    circuits,
    relayId: new Uint8Array([0, 1, 2]),
    sealVoucher: () => Promise.resolve(new Uint8Array([9, 9, 9])),
    relayAddrs: () => [multiaddr("/ip4/1.2.3.4/tcp/4001").bytes],
    connectionsTo: (peer) => connections.get(peer.toString()) ?? [],
    isDraining: () => false,
  });
  return { handler, clock, store, slots, circuits, metrics, registry, connections };
}

/** Opens a hop stream to the handler, sends `bytes`, returns the client end and a reader. */
async function openHop(
  h: Harness,
  connection: Connection,
  bytes?: Uint8Array,
): Promise<{ client: Stream; reader: FrameReader; handled: Promise<void> }> {
  const [client, server] = await streamPair();
  const handled = h.handler.handle(server, connection);
  const reader = new FrameReader(client, 4096);
  if (bytes !== undefined) client.send(bytes);
  return { client, reader, handled };
}

function hopFrame(message: HopMessage): Uint8Array {
  return encodeFrame(encodeHopMessage(message));
}

async function answer(reader: FrameReader): Promise<HopMessage> {
  return decodeHopMessage(await reader.read());
}

async function errors(h: Harness, reason: string, protocol = "hop"): Promise<number> {
  const values = await h.registry.values("hopd_relay_stream_errors_total");
  return values.find((v) => v.labels.reason === reason && v.labels.protocol === protocol)
    ?.value ?? 0;
}

Deno.test("HopHandler answers RESERVE with OK, expiry, addrs, voucher and limit", async () => {
  const h = harness();
  const peer = await newPeer();
  const conn = fakeConnection(peer);
  h.connections.set(peer.toString(), [conn]);
  const { reader, handled } = await openHop(h, conn, hopFrame({ type: "RESERVE" }));
  const response = await answer(reader);
  await handled;
  assert.equal(response.type, "STATUS");
  assert.equal(response.status, "OK");
  assert.deepEqual([...(response.reservation?.voucher ?? [])], [9, 9, 9]);
  assert.equal(response.reservation?.addrs.length, 1);
  const expire = Number(response.reservation?.expire);
  assert.equal(expire, Math.floor((h.clock.nowMs() + 3_600_000) / 1000));
  assert.deepEqual(response.limit, { duration: 120, data: 131_072n });
  assert.ok(h.store.get(peerKey(peer.toMultihash().bytes)));
});

Deno.test("HopHandler omits the limit when duration and data are unlimited", async () => {
  const h = harness({ circuitDurationMs: 0, circuitDataBytes: 0 });
  const peer = await newPeer();
  const conn = fakeConnection(peer);
  h.connections.set(peer.toString(), [conn]);
  const { reader } = await openHop(h, conn, hopFrame({ type: "RESERVE" }));
  const response = await answer(reader);
  assert.equal(response.status, "OK");
  assert.equal(response.limit, undefined);
});

Deno.test("HopHandler drops a reservation whose peer left while it was being signed", async () => {
  const h = harness();
  const peer = await newPeer();
  const { handled } = await openHop(h, fakeConnection(peer), hopFrame({ type: "RESERVE" }));
  await handled; // no connection listed for the peer: it is gone
  assert.equal(h.store.size, 0);
});

Deno.test("HopHandler answers each bad request with its status", async (t) => {
  const cases: [string, Uint8Array, Status, string][] = [
    [
      "a STATUS message",
      hopFrame({ type: "STATUS", status: "OK" }),
      "UNEXPECTED_MESSAGE",
      "unexpected",
    ],
    ["a message without type", hopFrame({}), "MALFORMED_MESSAGE", "malformed"],
    [
      "garbage protobuf",
      encodeFrame(new Uint8Array([0xff, 0xff, 0xff])),
      "MALFORMED_MESSAGE",
      "malformed",
    ],
    [
      "an unknown type",
      encodeFrame(new Uint8Array([0x08, 0x07])),
      "MALFORMED_MESSAGE",
      "malformed",
    ],
    ["CONNECT without a peer", hopFrame({ type: "CONNECT" }), "MALFORMED_MESSAGE", "malformed"],
    ["a 5000-byte frame", encodeFrame(new Uint8Array(5000)), "MALFORMED_MESSAGE", "oversized"],
  ];
  for (const [name, bytes, status, reason] of cases) {
    await t.step(`${name} gets ${status} and a reset`, async () => {
      const h = harness();
      const { client, reader, handled } = await openHop(h, fakeConnection(await newPeer()), bytes);
      const response = await answer(reader);
      await handled;
      assert.equal(response.status, status);
      assert.equal(await errors(h, reason), 1);
      await closed(client);
    });
  }
});

Deno.test("HopHandler resets a stream that stalls past the handshake timeout", async () => {
  const h = harness({ handshakeTimeoutMs: 50 });
  const { client, handled } = await openHop(
    h,
    fakeConnection(await newPeer()),
    new Uint8Array([5, 1]),
  );
  h.clock.advance(49);
  assert.equal(await errors(h, "timeout"), 0);
  h.clock.advance(1);
  await handled;
  assert.equal(await errors(h, "timeout"), 1);
  await closed(client);
});

Deno.test("HopHandler refuses RESERVE over a relayed connection with PERMISSION_DENIED", async () => {
  const h = harness();
  const peer = await newPeer();
  const conn = fakeConnection(peer, `/ip4/1.2.3.4/tcp/1/p2p/${peer}/p2p-circuit`);
  const { reader } = await openHop(h, conn, hopFrame({ type: "RESERVE" }));
  assert.equal((await answer(reader)).status, "PERMISSION_DENIED");
  assert.equal(h.store.size, 0);
});

/** Wires a target peer whose stop streams are served by `onStop`. */
async function target(
  h: Harness,
  onStop: (stream: Stream) => void,
): Promise<PeerId> {
  const peer = await newPeer();
  const conn = fakeConnection(peer, "/ip4/10.9.9.9/tcp/1", async () => {
    const [relaySide, targetSide] = await streamPair();
    onStop(targetSide);
    return relaySide;
  });
  h.connections.set(peer.toString(), [conn]);
  h.store.reserve({ key: peerKey(peer.toMultihash().bytes), peer, addr: { ip: "t", subnet: "t" } });
  return peer;
}

Deno.test("HopHandler connects a CONNECT to a reserved target and relays both ways", async () => {
  const h = harness();
  const source = await newPeer();
  let stopRequest: ReturnType<typeof decodeStopMessage> | undefined;
  let targetStream: Stream | undefined;
  const dst = await target(h, (stream) => {
    targetStream = stream;
    const reader = new FrameReader(stream, 4096);
    void reader.read().then((frame) => {
      stopRequest = decodeStopMessage(frame);
      stream.send(encodeFrame(encodeStopMessage({ type: "STATUS", status: "OK" })));
      reader.unwrap();
      stream.addEventListener("message", (evt) => stream.send(evt.data)); // echo
    });
  });
  const connect = hopFrame({ type: "CONNECT", peer: { id: dst.toMultihash().bytes, addrs: [] } });
  const { client, reader, handled } = await openHop(h, fakeConnection(source), connect);
  const response = await answer(reader);
  await handled;
  assert.equal(response.status, "OK");
  assert.deepEqual(response.limit, { duration: 120, data: 131_072n });
  assert.deepEqual([...(stopRequest?.peer?.id ?? [])], [...source.toMultihash().bytes]);
  assert.deepEqual(stopRequest?.limit, { duration: 120, data: 131_072n });
  assert.equal(h.circuits.size, 1);
  assert.equal(h.slots.size, 1);

  reader.unwrap();
  const echoed = new Promise<number>((resolve) => {
    let n = 0;
    client.addEventListener("message", (evt) => {
      n += evt.data.byteLength;
      if (n >= 1000) resolve(n);
    });
  });
  client.send(new Uint8Array(1000));
  assert.equal(await echoed, 1000);
  const [circuit] = h.circuits;
  assert.equal(circuit?.bytesSrcToDst, 1000);
  assert.equal(circuit?.bytesDstToSrc, 1000);

  client.abort(new Error("initiator resets"));
  await closed(targetStream);
  await h.circuits.emptied();
  assert.equal(h.slots.size, 0);

  // Its life and its 2,000 bytes are recorded under the side that ended it.
  const text = await h.registry.metrics();
  const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  assert.equal(sample('hopd_circuit_bytes_count\\{ended_by="initiator"\\}'), 1);
  assert.equal(sample('hopd_circuit_bytes_sum\\{ended_by="initiator"\\}'), 2000);
  assert.equal(sample('hopd_circuit_bytes_bucket\\{le="1024",ended_by="initiator"\\}'), 0);
  assert.equal(sample('hopd_circuit_bytes_bucket\\{le="4096",ended_by="initiator"\\}'), 1);
  assert.equal(sample('hopd_circuit_duration_seconds_count\\{ended_by="initiator"\\}'), 1);
  assert.equal(sample('hopd_circuit_duration_seconds_count\\{ended_by="target"\\}'), 0);
  assert.equal(sample('hopd_circuit_bytes_count\\{ended_by="relay"\\}'), 0);
});

Deno.test("HopHandler times the target's STOP answer inside the circuit setup", async () => {
  const h = harness();
  const dst = await target(h, (stream) => {
    const reader = new FrameReader(stream, 4096);
    void reader.read().then(() => {
      // A slow target: it answers 50 ms after it was asked.
      h.clock.setTimeout(() => {
        stream.send(encodeFrame(encodeStopMessage({ type: "STATUS", status: "OK" })));
      }, 50);
      onAsked();
    });
  });
  const { promise: asked, resolve: onAsked } = Promise.withResolvers<void>();
  const connect = hopFrame({ type: "CONNECT", peer: { id: dst.toMultihash().bytes, addrs: [] } });
  const { client, reader, handled } = await openHop(h, fakeConnection(await newPeer()), connect);
  await asked;
  h.clock.advance(50);
  assert.equal((await answer(reader)).status, "OK");
  await handled;
  const histogram = async (name: "hopd_circuit_stop_seconds" | "hopd_circuit_setup_seconds") => {
    const values = await h.registry.values(name);
    return {
      count: values.find((v) => v.metricName?.endsWith("_count"))!.value,
      sum: values.find((v) => v.metricName?.endsWith("_sum"))!.value,
    };
  };
  const stop = await histogram("hopd_circuit_stop_seconds");
  const setup = await histogram("hopd_circuit_setup_seconds");
  assert.equal(stop.count, 1);
  assert.equal(setup.count, 1);
  // Nothing else advanced the clock: both are exactly the target's 50 ms.
  assert.equal(stop.sum, 0.05);
  assert.equal(setup.sum, 0.05);
  client.abort(new Error("done"));
  await h.circuits.emptied();
});

Deno.test("HopHandler answers CONNECTION_FAILED when the target refuses, and frees the slot", async () => {
  const h = harness();
  const dst = await target(h, (stream) => {
    const reader = new FrameReader(stream, 4096);
    void reader.read().then(() => {
      stream.send(encodeFrame(encodeStopMessage({ type: "STATUS", status: "PERMISSION_DENIED" })));
    });
  });
  const connect = hopFrame({ type: "CONNECT", peer: { id: dst.toMultihash().bytes, addrs: [] } });
  const { reader, handled } = await openHop(h, fakeConnection(await newPeer()), connect);
  assert.equal((await answer(reader)).status, "CONNECTION_FAILED");
  await handled;
  assert.equal(h.slots.size, 0);
  assert.equal(h.circuits.size, 0);
});

Deno.test("HopHandler answers CONNECT to an unreserved peer with NO_RESERVATION", async () => {
  const h = harness();
  const other = await newPeer();
  const connect = hopFrame({ type: "CONNECT", peer: { id: other.toMultihash().bytes, addrs: [] } });
  const { reader } = await openHop(h, fakeConnection(await newPeer()), connect);
  assert.equal((await answer(reader)).status, "NO_RESERVATION");
});

Deno.test("HopHandler refuses a source over its circuit limit with RESOURCE_LIMIT_EXCEEDED", async () => {
  const h = harness({ maxCircuitsPerPeer: 1 });
  const source = await newPeer();
  const dst = await target(h, () => {});
  h.slots.acquire(peerKey(source.toMultihash().bytes)); // one circuit already open
  const connect = hopFrame({ type: "CONNECT", peer: { id: dst.toMultihash().bytes, addrs: [] } });
  const { reader } = await openHop(h, fakeConnection(source), connect);
  assert.equal((await answer(reader)).status, "RESOURCE_LIMIT_EXCEEDED");
  assert.equal(h.slots.size, 1);
});

Deno.test("HopHandler times out a target that never answers STOP and frees the slot", async () => {
  const h = harness({ handshakeTimeoutMs: 50 });
  const { promise: asked, resolve: onAsked } = Promise.withResolvers<void>();
  const dst = await target(
    h,
    (stream) => void new FrameReader(stream, 4096).read().then(() => onAsked()),
  );
  const connect = hopFrame({ type: "CONNECT", peer: { id: dst.toMultihash().bytes, addrs: [] } });
  const { client, handled } = await openHop(h, fakeConnection(await newPeer()), connect);
  await asked;
  h.clock.advance(50);
  await handled;
  assert.equal(await errors(h, "timeout", "stop"), 1);
  assert.equal(await errors(h, "timeout", "hop"), 1);
  assert.equal(h.slots.size, 0);
  await closed(client);
});

/** Resolves when `stream` is no longer open (at once if it is not). */
async function closed(stream: Stream | undefined): Promise<void> {
  assert.ok(stream !== undefined, "no stream was opened");
  if (stream.status !== "open") return;
  await new Promise((resolve) => stream.addEventListener("close", resolve, { once: true }));
}
