// buildComponents() wires the parts to each other: a node built from a config and started in
// its start order, on 127.0.0.1, driven by a stock js-libp2p client speaking the hop protocol.
// What is checked is the wiring (the ban list reaches the host, the limiter the relay, a drain
// the relay), not the parts themselves, which have their own tests.

import assert from "node:assert/strict";
import type { Connection, Libp2p } from "@libp2p/interface";
import { loadConfig, type RawConfig } from "../config/mod.ts";
import { loopbackNode } from "../host/testing.ts";
import { encodeFrame, FrameReader } from "../relay/_framing.ts";
import { HOP_PROTOCOL } from "../relay/constants.ts";
import { decodeHopMessage, encodeHopMessage } from "../relay/pb/circuit.ts";
import type { Status } from "../relay/pb/circuit.ts";
import type { Components } from "./components.ts";
import { buildTestComponents } from "./_test_peers.ts";
import { startOrder } from "./start_order.ts";
import { Startables } from "./startables.ts";

/** Builds and starts a node on 127.0.0.1 with `overrides`; `run` gets it, then it stops. */
async function withNode(
  overrides: RawConfig,
  run: (c: Components, client: Libp2p) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-components-test-" });
  const config = await loadConfig({
    overrides: {
      ...overrides,
      node: { data_dir: dataDir, listen: ["/ip4/127.0.0.1/tcp/0"] },
      http: { listen: "127.0.0.1:0" },
      policy: { enabled: false },
      autonat: { enabled: false },
    },
  });
  const c = await buildTestComponents(config, { identityDir: dataDir });
  const startables = new Startables(startOrder(c));
  await startables.start();
  const client = await loopbackNode({ addresses: { listen: [] } });
  try {
    await run(c, client);
  } finally {
    await client.stop();
    await startables.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
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

async function reserve(connection: Connection): Promise<Status | undefined> {
  const stream = await connection.newStream(HOP_PROTOCOL);
  const reader = new FrameReader(stream, 4096);
  stream.send(encodeFrame(encodeHopMessage({ type: "RESERVE" })));
  return decodeHopMessage(await reader.read()).status;
}

Deno.test("buildComponents() wires a ban to the host: the peer's open connection closes and it cannot come back", async () => {
  await withNode({}, async (c, client) => {
    const connection = await client.dial(c.host.libp2p.getMultiaddrs()[0]!);
    assert.equal(await reserve(connection), "OK");
    const closed = Promise.withResolvers<void>();
    client.addEventListener("connection:close", (evt) => {
      if (evt.detail === connection) closed.resolve();
    });
    c.bans.ban({ kind: "peer", value: client.peerId.toString(), reason: "test" });
    await within(closed.promise, "close of the banned peer's connection");
    assert.equal(c.relay.stats().reservations, 0, "its reservation went with its connection");
    await assert.rejects(
      client.dial(c.host.libp2p.getMultiaddrs()[0]!).then((again) => reserve(again)),
    );
  });
});

Deno.test("buildComponents() wires the limiter into the relay: a RESERVE past the peer's rate is refused", async () => {
  await withNode(
    { limits: { reservations_per_peer: "1/h", reservations_per_peer_burst: 2 } },
    async (c, client) => {
      const connection = await client.dial(c.host.libp2p.getMultiaddrs()[0]!);
      assert.equal(await reserve(connection), "OK");
      assert.equal(await reserve(connection), "OK");
      assert.equal(await reserve(connection), "RESOURCE_LIMIT_EXCEEDED");
      assert.equal(c.relay.stats().refusals, 1);
    },
  );
});

Deno.test("buildComponents() wires a drain to the relay: new reservations are refused until it ends", async () => {
  await withNode({}, async (c, client) => {
    const connection = await client.dial(c.host.libp2p.getMultiaddrs()[0]!);
    c.state.requestDrain(true);
    assert.equal(c.relay.stats().draining, true);
    assert.equal(await reserve(connection), "RESERVATION_REFUSED");
    c.state.requestDrain(false);
    assert.equal(c.relay.stats().draining, false);
    assert.equal(await reserve(connection), "OK");
  });
});
