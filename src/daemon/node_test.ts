// Node.shutdown(): the drain an open circuit gets before the parts stop. A node built from a
// config on a ManualClock, started on 127.0.0.1, with a real circuit between two stock
// js-libp2p clients through its relay; the drain's polls and deadline run on that clock. And a
// ban's TTL, made over the real ops server, expiring on that clock instead of in real time.

import assert from "node:assert/strict";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { identify } from "@libp2p/identify";
import type { Libp2p, Stream } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { ManualClock } from "../clock/mod.ts";
import { loadConfig } from "../config/mod.ts";
import { loopbackNode } from "../host/testing.ts";
import { buildTestComponents } from "./_test_peers.ts";
import { Node } from "./node.ts";
import { startOrder } from "./start_order.ts";
import { Startables } from "./startables.ts";
import { canReserve, newIdentity } from "../../tests/_helpers/reserving_client.ts";

const ECHO_PROTOCOL = "/hopd-test/echo/1.0.0";

interface Rig {
  node: Node;
  clock: ManualClock;
  source: Libp2p;
  target: Libp2p;
  /** A stream through the relay from source to target, echoed by the target. */
  stream: Stream;
}

/** A node on a ManualClock, started on 127.0.0.1 (libp2p and ops), policies and AutoNAT off. */
async function startNode(
  node: { drain_timeout?: string } = {},
): Promise<{ node: Node; clock: ManualClock; dataDir: string }> {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-node-test-" });
  const clock = new ManualClock(Date.now());
  const config = await loadConfig({
    overrides: {
      node: { data_dir: dataDir, listen: ["/ip4/127.0.0.1/tcp/0"], ...node },
      http: { listen: "127.0.0.1:0" },
      policy: { enabled: false },
      autonat: { enabled: false },
    },
  });
  const c = await buildTestComponents(config, { identityDir: dataDir, clock });
  const started = new Node({
    components: c,
    startables: new Startables(startOrder(c)),
    restartRequested: new Promise(() => {}),
  });
  await started.start();
  return { node: started, clock, dataDir };
}

/** A started node (drain_timeout 30 s) with one open circuit; `run` gets it. */
async function withCircuit(run: (rig: Rig) => Promise<void>): Promise<void> {
  const { node, clock, dataDir } = await startNode({ drain_timeout: "30s" });
  const relayAddr = node.listenAddrs()[0]!;
  const clients: Libp2p[] = [];
  const client = async (listen: string[]) => {
    const created = await loopbackNode({
      addresses: { listen },
      transports: [tcp(), circuitRelayTransport()],
      services: { identify: identify() },
      start: false,
    });
    clients.push(created);
    return created;
  };
  try {
    const target = await client([`${relayAddr}/p2p-circuit`]);
    await target.handle(ECHO_PROTOCOL, async (stream) => {
      for await (const chunk of stream) stream.send(chunk);
      await stream.close();
    }, { runOnLimitedConnection: true });
    const reserved = Promise.withResolvers<void>();
    target.addEventListener("self:peer:update", () => {
      if (target.getMultiaddrs().some((ma) => ma.toString().includes("/p2p-circuit"))) {
        reserved.resolve();
      }
    });
    await target.start();
    await reserved.promise;
    const source = await client([]);
    await source.start();
    const stream = await source.dialProtocol(
      multiaddr(`${relayAddr}/p2p-circuit/p2p/${target.peerId}`),
      ECHO_PROTOCOL,
      { runOnLimitedConnection: true },
    );
    await run({ node, clock, source, target, stream });
  } finally {
    await Promise.all(clients.map((n) => n.stop()));
    const stopped = node.shutdown();
    await clock.advanceAsync(60_000);
    await stopped;
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Sends `bytes` through the circuit and resolves once they came back. */
function echo(stream: Stream, bytes: number): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  let received = 0;
  const onMessage = (evt: { data: { byteLength: number } }) => {
    received += evt.data.byteLength;
    if (received >= bytes) {
      stream.removeEventListener("message", onMessage);
      resolve();
    }
  };
  stream.addEventListener("message", onMessage);
  stream.send(new Uint8Array(bytes));
  return promise;
}

/** `promise`, or a failure naming `what` if it has not settled in 10 s (a bound, not a wait). */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  const signal = AbortSignal.timeout(10_000);
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      signal.addEventListener("abort", () => reject(new Error(`no ${what} within 10 s`)));
    }),
  ]);
}

/** Whether `promise` has settled by the time the tasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("Node.shutdown() keeps an open circuit relaying through the drain, and stops once it ends", async () => {
  await withCircuit(async ({ node, clock, source, target, stream }) => {
    await echo(stream, 1000);
    const stopping = node.shutdown();
    assert.equal(node.shutdown(), stopping, "a second call joins the first");
    assert.equal(node.readiness().ready, false);
    // A second later on the node's clock the circuit still relays and the node still listens.
    await clock.advanceAsync(1_000);
    await echo(stream, 1000);
    assert.equal(await settled(stopping), false);
    assert.notDeepEqual(node.listenAddrs(), []);

    // The circuit carries the whole relayed connection: it ends when that connection does.
    const relayed = target.getConnections(source.peerId)[0]!;
    const closed = Promise.withResolvers<void>();
    target.addEventListener("connection:close", (evt) => {
      if (evt.detail === relayed) closed.resolve();
    });
    await source.hangUp(target.peerId);
    await closed.promise;
    // The relay tells the drain its last circuit ended: no clock advance, no poll.
    await within(stopping, "stop after the circuit ended");
    assert.equal((node.status() as { relay: { circuits: number } }).relay.circuits, 0);
    assert.deepEqual(node.listenAddrs(), [], "the listeners are closed");
  });
});

Deno.test("Node.shutdown() stops at node.drain_timeout with a circuit still open", async () => {
  await withCircuit(async ({ node, clock, stream }) => {
    const stopping = node.shutdown();
    await clock.advanceAsync(29_900);
    await echo(stream, 1000);
    assert.equal(await settled(stopping), false, "still draining before the deadline");
    await clock.advanceAsync(200);
    await within(stopping, "stop at the drain deadline");
    assert.deepEqual(node.listenAddrs(), []);
  });
});

Deno.test("a ban made over the ops API with a TTL refuses the peer until the node's clock passes it", async () => {
  const { node, clock, dataDir } = await startNode();
  const relayAddr = node.listenAddrs()[0]!;
  const { hostname, port } = node.opsAddress;
  const bansUrl = `http://${hostname}:${port}/v1/admin/bans`;
  const listed = async () => (await (await fetch(bansUrl)).json()).total as number;
  const peer = await newIdentity();
  try {
    // No admin token: a loopback caller needs none.
    const response = await fetch(bansUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ peer: peer.peerId, ttl: "2s" }),
    });
    assert.equal(response.status, 201, await response.text());
    assert.equal(await canReserve(relayAddr, peer.privateKey), false, "reserved while banned");

    await clock.advanceAsync(1_999);
    assert.equal(await listed(), 1, "expired a millisecond early");
    assert.equal(await canReserve(relayAddr, peer.privateKey), false, "reserved before the TTL");

    await clock.advanceAsync(1);
    assert.equal(await listed(), 0, "the expired ban is still listed");
    assert.equal(await canReserve(relayAddr, peer.privateKey), true, "still refused after the TTL");
  } finally {
    const stopped = node.shutdown();
    await clock.advanceAsync(60_000);
    await stopped;
    await Deno.remove(dataDir, { recursive: true });
  }
});
