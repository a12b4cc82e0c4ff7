/** The data path over in-memory stream pairs: exact limits, half-close, resets, slots. */

import assert from "node:assert/strict";
import type { Stream } from "@libp2p/interface";
import { streamPair } from "@libp2p/utils";
import { Circuit, CircuitSlots } from "./circuit.ts";
import type { CircuitEndedBy, CircuitEndReason, CircuitLimit } from "./circuit.ts";

interface Rig {
  initiator: Stream;
  target: Stream;
  circuit: Circuit;
  ended: Promise<CircuitEndReason>;
  endedBy: Promise<CircuitEndedBy>;
}

async function rig(limit: CircuitLimit): Promise<Rig> {
  const [initiator, hop] = await streamPair();
  const [stop, target] = await streamPair();
  const ended = Promise.withResolvers<CircuitEndReason>();
  const endedBy = Promise.withResolvers<CircuitEndedBy>();
  const circuit = new Circuit({
    src: hop,
    dst: stop,
    limit,
    sourceKey: "src",
    onEnd: (_c, reason, by) => {
      ended.resolve(reason);
      endedBy.resolve(by);
    },
  });
  return { initiator, target, circuit, ended: ended.promise, endedBy: endedBy.promise };
}

function collect(stream: Stream): { bytes: () => number; ended: Promise<void> } {
  let n = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  stream.addEventListener("message", (evt) => void (n += evt.data.byteLength));
  stream.addEventListener("remoteCloseWrite", () => resolve());
  stream.addEventListener("close", () => resolve());
  return { bytes: () => n, ended: promise };
}

Deno.test("Circuit relays exactly the data limit in a direction, then closes both ends", async () => {
  const { initiator, target, circuit, ended, endedBy } = await rig({
    durationMs: 0,
    dataBytes: 1000,
  });
  const atTarget = collect(target);
  target.addEventListener("remoteCloseWrite", () => void target.close());
  initiator.addEventListener("remoteCloseWrite", () => void initiator.close());
  for (let i = 0; i < 7; i++) initiator.send(new Uint8Array(300));
  assert.equal(await ended, "data_limit");
  assert.equal(await endedBy, "relay");
  await atTarget.ended;
  assert.equal(atTarget.bytes(), 1000);
  assert.equal(circuit.bytesSrcToDst, 1000);
  assert.equal(circuit.bytesDstToSrc, 0);
});

Deno.test("Circuit propagates half-closes and ends as closed by the first to close", async () => {
  const { initiator, target, circuit, ended, endedBy } = await rig({ durationMs: 0, dataBytes: 0 });
  const atTarget = collect(target);
  const atInitiator = collect(initiator);
  initiator.send(new Uint8Array(500));
  await initiator.close();
  await atTarget.ended;
  target.send(new Uint8Array(200));
  await target.close();
  assert.equal(await ended, "closed");
  assert.equal(await endedBy, "initiator");
  assert.equal(atTarget.bytes(), 500);
  assert.equal(atInitiator.bytes(), 200);
  assert.equal(circuit.bytesDstToSrc, 200);
});

Deno.test("Circuit resets the other side when one side resets", async () => {
  const { initiator, target, ended, endedBy } = await rig({ durationMs: 0, dataBytes: 0 });
  const atInitiator = collect(initiator);
  target.abort(new Error("target crashed"));
  assert.equal(await ended, "reset");
  assert.equal(await endedBy, "target");
  await atInitiator.ended;
  assert.notEqual(initiator.status, "open");
});

Deno.test("Circuit ends as closed by the target when the target closes first", async () => {
  const { initiator, target, ended, endedBy } = await rig({ durationMs: 0, dataBytes: 0 });
  initiator.addEventListener("remoteCloseWrite", () => void initiator.close());
  await target.close();
  assert.equal(await ended, "closed");
  assert.equal(await endedBy, "target");
});

Deno.test("Circuit is cut when its duration runs out", async () => {
  const { initiator, target, ended, endedBy } = await rig({ durationMs: 50, dataBytes: 0 });
  target.addEventListener("remoteCloseWrite", () => void target.close());
  initiator.addEventListener("remoteCloseWrite", () => void initiator.close());
  const started = performance.now();
  assert.equal(await ended, "duration_limit");
  assert.equal(await endedBy, "relay");
  assert.ok(performance.now() - started >= 45);
});

Deno.test("CircuitSlots enforces total and per-peer limits and releases", () => {
  const slots = new CircuitSlots(3, 2);
  assert.equal(slots.acquire("a"), "OK");
  assert.equal(slots.acquire("a"), "OK");
  assert.equal(slots.acquire("a"), "peer_circuit_limit");
  assert.equal(slots.acquire("b"), "OK");
  assert.equal(slots.acquire("c"), "circuit_limit");
  slots.release("a");
  assert.equal(slots.size, 2);
  assert.equal(slots.acquire("c"), "OK");
  slots.release("zzz"); // never acquired: no effect
  assert.equal(slots.size, 3);
});
