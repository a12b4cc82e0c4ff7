// startOrder(): which parts start, in which order, and what its own startables (the ban list,
// the limiter sweep) do, on components built from a config with a manual clock. Nothing here
// starts the libp2p host; mod_test.ts starts and stops a whole node.

import assert from "node:assert/strict";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { ManualClock } from "../clock/mod.ts";
import { loadConfig, type RawConfig } from "../config/mod.ts";
import { buildComponents, type Components } from "./components.ts";
import { startOrder } from "./start_order.ts";
import type { Startable } from "./startables.ts";

async function build(
  dataDir: string,
  overrides: RawConfig = {},
  clock = new ManualClock(),
  compactMemory = () => {},
): Promise<Components> {
  const privateKey = await generateKeyPair("Ed25519");
  const peerId = peerIdFromPrivateKey(privateKey).toString();
  const config = await loadConfig({
    overrides: {
      policy: { enabled: false },
      autonat: { enabled: false },
      ...overrides,
      node: { data_dir: dataDir, listen: ["/ip4/127.0.0.1/tcp/0"], ...overrides.node },
      http: { listen: "127.0.0.1:0" },
      ...(overrides.federation === undefined
        ? {}
        : { federation: { ...overrides.federation, members: [peerId] } }),
    },
  });
  return await buildComponents({
    config,
    identity: {
      privateKeyProtobuf: privateKeyToProtobuf(privateKey),
      peerId,
      path: "identity.key",
      created: false,
      looseMode: false,
    },
    adminToken: undefined,
    requestRestart: () => {},
    clock,
    compactMemory,
  });
}

function part(c: Components, name: string): Startable {
  const found = startOrder(c).find((s) => s.name === name);
  assert.ok(found !== undefined, `no startable named ${name}`);
  return found;
}

async function withDataDir(run: (dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-start-order-test-" });
  try {
    await run(dataDir);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("startOrder() starts each optional part after what it needs, and leaves out those turned off", async (t) => {
  await withDataDir(async (dataDir) => {
    await t.step("all on: federation after the relay, ACME before the ops server", async () => {
      const c = await build(dataDir, {
        policy: { enabled: true },
        autonat: { enabled: true },
        federation: { enabled: true },
        acme: {
          enabled: true,
          domains: ["relay.example.com"],
          wss_listen: "/ip4/127.0.0.1/tcp/0/tls/ws",
          http_listen: "127.0.0.1:0",
        },
      });
      assert.deepEqual(startOrder(c).map((s) => s.name), [
        "ban list",
        "libp2p host",
        "relay",
        "autonat",
        "federation",
        "acme",
        "ops server",
        "socket guards",
        "limiter sweep",
        "policy snapshots",
        "policy engine",
        "memory at rest",
      ]);
    });
    await t.step("all off: the parts every node has", async () => {
      const c = await build(dataDir);
      assert.deepEqual(startOrder(c).map((s) => s.name), [
        "ban list",
        "libp2p host",
        "relay",
        "ops server",
        "socket guards",
        "limiter sweep",
        "memory at rest",
      ]);
    });
  });
});

Deno.test("startOrder()'s limiter sweep drops idle buckets every 10 s of the node's clock, and stops with the node", async () => {
  await withDataDir(async (dataDir) => {
    const clock = new ManualClock();
    const c = await build(dataDir, {}, clock);
    const sweep = part(c, "limiter sweep");
    const timersBefore = clock.pendingTimers;
    await sweep.start();
    assert.equal(clock.pendingTimers, timersBefore + 1);
    assert.ok(c.limiter.checkConnection("192.0.2.7").ok);
    const tracked = () => c.limiter.trackedKeys()["connections_per_ip"];
    assert.equal(tracked(), 1);
    // The bucket refills in well under a second; it is dropped at the next sweep, not before.
    clock.advance(9_999);
    assert.equal(tracked(), 1);
    clock.advance(1);
    assert.equal(tracked(), 0);
    await sweep.stop();
    assert.equal(clock.pendingTimers, timersBefore);
  });
});

Deno.test("startOrder() compacts the memory of a node once, 1 s after its start, not in it", async (t) => {
  await withDataDir(async (dataDir) => {
    for (const stopFirst of [false, true]) {
      await t.step(
        stopFirst ? "a node stopped sooner never compacts" : "once, at 1 s",
        async () => {
          const clock = new ManualClock();
          let compactions = 0;
          const c = await build(dataDir, {}, clock, () => compactions++);
          const rest = part(c, "memory at rest");
          await rest.start();
          // The start returns before any collection: the first /ready does not wait for one.
          assert.equal(compactions, 0);
          clock.advance(999);
          assert.equal(compactions, 0);
          if (stopFirst) await rest.stop();
          clock.advance(1);
          assert.equal(compactions, stopFirst ? 0 : 1);
          clock.advance(60_000);
          assert.equal(compactions, stopFirst ? 0 : 1);
          await rest.stop();
          assert.equal(clock.pendingTimers, 0);
        },
      );
    }
  });
});

Deno.test("startOrder() compacts a node with the policy engine 1 s after its start, and its first tick compacts again", async () => {
  await withDataDir(async (dataDir) => {
    const policies = await Deno.makeTempDir({ dir: dataDir });
    const clock = new ManualClock();
    let compactions = 0;
    const c = await build(
      dataDir,
      { policy: { enabled: true, dir: policies } },
      clock,
      () => compactions++,
    );
    await part(c, "memory at rest").start();
    assert.equal(compactions, 0);
    clock.advance(1_000);
    assert.equal(compactions, 1);
    await c.policy!.tick();
    assert.equal(compactions, 2);
    await c.policy!.tick();
    assert.equal(compactions, 2);
  });
});

Deno.test("startOrder()'s ban list loads the bans a previous run saved, and its stop writes the new ones", async () => {
  await withDataDir(async (dataDir) => {
    const first = await build(dataDir);
    await part(first, "ban list").start();
    first.bans.ban({ kind: "cidr", value: "192.0.2.9/32", reason: "test" });
    await part(first, "ban list").stop();

    const second = await build(dataDir);
    const now = second.clock.nowMs();
    assert.equal(second.bans.isIpBanned("192.0.2.9", now), false, "nothing read while building");
    await part(second, "ban list").start();
    assert.equal(second.bans.isIpBanned("192.0.2.9", now), true);
    assert.deepEqual(second.bans.list(now).map((ban) => ban.reason), ["test"]);
  });
});
