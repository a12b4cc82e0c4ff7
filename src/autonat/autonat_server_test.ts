/**
 * The AutoNAT v1 server over in-memory stream pairs with fake connections and a fake dialer:
 * what it dials, every answer the spec defines, the rate limits, and bad bytes.
 */

import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Connection, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { lpStream, streamPair } from "@libp2p/utils";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { MetricsRegistry } from "../metrics/mod.ts";
import { AutonatServer } from "./autonat_server.ts";
import { AutonatMetrics } from "./metrics.ts";
import { type AutonatMessage, decodeAutonatMessage, encodeAutonatMessage } from "./pb/autonat.ts";
import { ManualClock } from "../clock/mod.ts";

async function newPeer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
}

function fakeConnection(remotePeer: PeerId, addr: string, limited = false): Connection {
  return {
    remotePeer,
    remoteAddr: multiaddr(addr),
    limits: limited ? { bytes: 1n } : undefined,
  } as unknown as Connection;
}

interface Rig {
  server: AutonatServer;
  registry: MetricsRegistry;
  dialed: string[];
  clock: ManualClock;
}

/** A server whose dialer reaches the addresses `reachable` says, and fails the rest. */
function rig(
  reachable: (addr: Multiaddr) => boolean = () => true,
  limits = { perPeer: 3, global: 30 },
): Rig {
  const registry = new MetricsRegistry();
  const dialed: string[] = [];
  const clock = new ManualClock(1_000_000);
  const server = new AutonatServer({
    config: {
      enabled: true,
      dialsPerPeer: { ratePerSecond: limits.perPeer / 60, burst: limits.perPeer },
      dialsGlobal: { ratePerSecond: limits.global / 60, burst: limits.global },
      dialTimeoutMs: 1_000,
      maxAddrs: 4,
    },
    clock,
    maxTrackedPeers: 100,
    metrics: new AutonatMetrics(registry),
    dialBack(addr) {
      dialed.push(addr.toString());
      return reachable(addr)
        ? Promise.resolve(addr)
        : Promise.reject(new Error("connection refused"));
    },
  });
  return { server, registry, dialed, clock };
}

/** Sends `request` (or raw bytes) on a fresh stream and returns the answer, if any. */
async function ask(
  r: Rig,
  connection: Connection,
  request: AutonatMessage | Uint8Array,
): Promise<{ answer?: AutonatMessage; client: Stream }> {
  const [client, server] = await streamPair();
  const handled = r.server.handle(server, connection);
  const framed = lpStream(client);
  if (request instanceof Uint8Array) client.send(request);
  else await framed.write(encodeAutonatMessage(request));
  let answer: AutonatMessage | undefined;
  try {
    answer = decodeAutonatMessage(await framed.read());
  } catch {
    // A reset stream has no answer.
  }
  await handled;
  return { answer, client };
}

async function results(r: Rig): Promise<Record<string, number>> {
  const values = await r.registry.values("hopd_autonat_requests_total");
  return Object.fromEntries(
    values.filter((v) => v.value > 0).map((v) => [String(v.labels.result), v.value]),
  );
}

function dial(peer: PeerId, addrs: string[]): AutonatMessage {
  return {
    type: "DIAL",
    dial: { peer: { id: peer.toMultihash().bytes, addrs: addrs.map((a) => multiaddr(a).bytes) } },
  };
}

Deno.test("AutonatServer dials the observed address and the asked ports on the sender's IP only", async () => {
  const r = rig((addr) => addr.toString().startsWith("/ip4/11.0.0.2/tcp/4001"));
  const peer = await newPeer();
  const { answer } = await ask(
    r,
    fakeConnection(peer, "/ip4/11.0.0.2/tcp/52000"),
    dial(peer, [
      "/ip4/10.0.1.2/tcp/4001", // its private address: moved onto the observed IP
      "/ip4/203.0.113.9/tcp/4002", // someone else's IP: moved too, never dialed as such
      "/ip4/11.0.0.2/udp/4001/quic-v1", // not a transport hopd dials
      "/ip4/11.0.0.2/tcp/52000", // the observed one again: dialed once
      `/ip4/1.2.3.4/tcp/4001/p2p/${peer}/p2p-circuit`,
    ]),
  );
  assert.deepEqual(r.dialed, [
    `/ip4/11.0.0.2/tcp/52000/p2p/${peer}`,
    `/ip4/11.0.0.2/tcp/4001/p2p/${peer}`,
  ]);
  assert.equal(answer?.type, "DIAL_RESPONSE");
  assert.equal(answer?.dialResponse?.status, "OK");
  assert.equal(multiaddr(answer!.dialResponse!.addr!).toString(), "/ip4/11.0.0.2/tcp/4001");
  assert.deepEqual(await results(r), { ok: 1 });
});

Deno.test("AutonatServer answers E_DIAL_ERROR when no address answers (a NATed peer)", async () => {
  const r = rig(() => false);
  const peer = await newPeer();
  const { answer } = await ask(
    r,
    fakeConnection(peer, "/ip4/11.0.0.2/tcp/52000"),
    dial(peer, ["/ip4/10.0.1.2/tcp/52000", "/ip4/10.0.1.2/tcp/52001/ws"]),
  );
  assert.equal(answer?.dialResponse?.status, "E_DIAL_ERROR");
  assert.deepEqual(r.dialed, [
    `/ip4/11.0.0.2/tcp/52000/p2p/${peer}`,
    `/ip4/11.0.0.2/tcp/52001/ws/p2p/${peer}`,
  ]);
  assert.deepEqual(await results(r), { dial_error: 1 });
});

Deno.test("AutonatServer refuses, with the spec's statuses and no dial", async (t) => {
  const peer = await newPeer();
  const other = await newPeer();
  const cases: [string, Connection, AutonatMessage, string, string][] = [
    [
      "a request for another peer",
      fakeConnection(peer, "/ip4/11.0.0.2/tcp/1"),
      dial(other, ["/ip4/11.0.0.2/tcp/4001"]),
      "E_BAD_REQUEST",
      "bad_request",
    ],
    [
      "a DIAL_RESPONSE instead of a DIAL",
      fakeConnection(peer, "/ip4/11.0.0.2/tcp/1"),
      { type: "DIAL_RESPONSE", dialResponse: { status: "OK" } },
      "E_BAD_REQUEST",
      "bad_request",
    ],
    [
      "a request over a relayed connection",
      fakeConnection(peer, "/ip4/11.0.0.9/tcp/4001/p2p-circuit", true),
      dial(peer, ["/ip4/11.0.0.2/tcp/4001"]),
      "E_DIAL_REFUSED",
      "refused_connection",
    ],
    [
      "a request from a private address",
      fakeConnection(peer, "/ip4/192.168.1.5/tcp/1"),
      dial(peer, ["/ip4/192.168.1.5/tcp/4001"]),
      "E_DIAL_REFUSED",
      "refused_address",
    ],
  ];
  for (const [name, connection, request, status, result] of cases) {
    await t.step(`${name}: ${status}`, async () => {
      const r = rig();
      const { answer } = await ask(r, connection, request);
      assert.equal(answer?.dialResponse?.status, status);
      assert.deepEqual(r.dialed, []);
      assert.deepEqual(await results(r), { [result]: 1 });
    });
  }
});

Deno.test("AutonatServer holds each peer and all peers to their rates", async () => {
  const r = rig(() => true, { perPeer: 2, global: 3 });
  const a = await newPeer();
  const b = await newPeer();
  const statusOf = async (peer: PeerId) =>
    (await ask(r, fakeConnection(peer, "/ip4/11.0.0.2/tcp/1"), dial(peer, [])))
      .answer?.dialResponse?.status;
  assert.equal(await statusOf(a), "OK");
  assert.equal(await statusOf(a), "OK");
  assert.equal(await statusOf(a), "E_DIAL_REFUSED", "over the per-peer burst");
  assert.equal(await statusOf(b), "OK");
  assert.equal(await statusOf(b), "E_DIAL_REFUSED", "over the global burst");
  r.clock.advance(30_000); // half a minute refills one global and one per-peer token
  assert.equal(await statusOf(b), "OK");
  assert.deepEqual(await results(r), { ok: 4, refused_rate_limit: 2 });
  assert.equal(r.dialed.length, 4);
});

Deno.test("AutonatServer resets a stream with bad bytes and counts it", async () => {
  const r = rig();
  const peer = await newPeer();
  const { answer, client } = await ask(
    r,
    fakeConnection(peer, "/ip4/11.0.0.2/tcp/1"),
    Uint8Array.of(3, 0xff, 0xff, 0xff),
  );
  assert.equal(answer, undefined);
  assert.notEqual(client.status, "open");
  assert.deepEqual(await results(r), { stream_error: 1 });
  assert.deepEqual(r.dialed, []);
});
