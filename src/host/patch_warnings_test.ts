import assert from "node:assert/strict";
import { captureLogs } from "../log/testing.ts";
import type { MultiaddrConnection, Upgrader } from "@libp2p/interface";
import { multiaddrConnectionPair } from "@libp2p/utils";
import { coalescingUpgrader } from "./coalesce_writes.ts";
import { installLeanEvents, isLean } from "./lean_events.ts";
import { type HostPatch, PATCH_FALLBACKS, PatchWarnings } from "./patch_warnings.ts";
import { cappedYamux } from "./yamux_frames.ts";

Deno.test("PatchWarnings logs one warning per workaround for a host, and a new host warns again", () => {
  using logs = captureLogs(["hopd", "host"], "info");
  const { records } = logs;
  for (let start = 1; start <= 2; start++) {
    const warnings = new PatchWarnings();
    warnings.notApplied("yamux_frames");
    warnings.notApplied("yamux_frames");
    warnings.notApplied("coalesce_writes");
    assert.deepEqual(warnings.notAppliedPatches, ["yamux_frames", "coalesce_writes"]);
    assert.equal(records.length, 2 * start);
  }
  assert.ok(records.every((r) => r.level === "warning"));
  assert.deepEqual(records.map((r) => r.properties.patch), [
    "yamux_frames",
    "coalesce_writes",
    "yamux_frames",
    "coalesce_writes",
  ]);
  assert.equal(records[0]!.properties.fallback, PATCH_FALLBACKS.yamux_frames);
});

/** An upgrader that upgrades nothing: what the coalescing hook hands on is all this tests. */
function handingOn(): { upgrader: Upgrader; handed: MultiaddrConnection[] } {
  const handed: MultiaddrConnection[] = [];
  const upgrader = {
    upgradeInbound: (maConn: MultiaddrConnection) => {
      handed.push(maConn);
      return Promise.resolve();
    },
    upgradeOutbound: (maConn: MultiaddrConnection) => {
      handed.push(maConn);
      return Promise.resolve();
    },
  } as unknown as Upgrader;
  return { upgrader, handed };
}

Deno.test("coalescingUpgrader() fed a connection that is not @libp2p/tcp's warns once and upgrades it unchanged", async () => {
  const warned: HostPatch[] = [];
  const warnings = new PatchWarnings((patch) => warned.push(patch));
  const { upgrader, handed } = handingOn();
  const coalescing = coalescingUpgrader(upgrader, warnings);
  // @libp2p/utils' in-memory connections: real libp2p connections with no socket to cork.
  const [outbound, inbound] = multiaddrConnectionPair();
  await coalescing.upgradeOutbound(outbound, {} as never);
  await coalescing.upgradeInbound(inbound, {} as never);
  assert.deepEqual(handed, [outbound, inbound]);
  assert.deepEqual(warned, ["coalesce_writes"]);
});

Deno.test("cappedYamux() makes a real yamux muxer and its streams lean, with no warning", async () => {
  assert.equal(installLeanEvents(), true);
  const warned: HostPatch[] = [];
  const factory = cappedYamux(
    { maxMessageSize: 65_507 },
    new PatchWarnings((p) => warned.push(p)),
  )();
  const [outbound, inbound] = multiaddrConnectionPair();
  const [client, server] = [
    factory.createStreamMuxer(outbound),
    factory.createStreamMuxer(inbound),
  ];
  const accepted = new Promise<unknown>((resolve) =>
    server.addEventListener("stream", (evt) => resolve(evt.detail), { once: true })
  );
  const stream = await client.createStream();
  stream.send(new Uint8Array([1, 2, 3]));
  const remote = await accepted;
  assert.equal(isLean(client), true);
  assert.equal(isLean(stream), true);
  assert.equal(isLean(remote), true);
  assert.ok((stream as unknown as { maxMessageSize: number }).maxMessageSize <= 65_507);
  assert.deepEqual(warned, []);
  await Promise.all([client.close(), server.close()]);
});
