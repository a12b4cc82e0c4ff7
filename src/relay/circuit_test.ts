/** The data path over in-memory stream pairs: exact limits, half-close, resets, slots. */

import assert from "node:assert/strict";
import type { MultiaddrConnection, Stream } from "@libp2p/interface";
import { multiaddrConnectionPair, streamPair } from "@libp2p/utils";
import { yamux } from "@libp2p/yamux";
import { type BandwidthCaps, BandwidthShaper } from "../ratelimit/bandwidth_shaper.ts";
import { largestExcess, seededRandom } from "../ratelimit/testing.ts";
import { Circuit, CircuitSlots } from "./circuit.ts";
import type { CircuitEndedBy, CircuitEndReason, CircuitLimit } from "./circuit.ts";
import { ManualClock } from "../clock/mod.ts";

interface Rig {
  initiator: Stream;
  target: Stream;
  circuit: Circuit;
  ended: Promise<CircuitEndReason>;
  endedBy: Promise<CircuitEndedBy>;
}

async function rig(limit: CircuitLimit, clock = new ManualClock()): Promise<Rig> {
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
    clock,
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

Deno.test("Circuit is cut when its duration runs out, not before", async () => {
  const clock = new ManualClock();
  const { initiator, target, ended, endedBy } = await rig({ durationMs: 50, dataBytes: 0 }, clock);
  target.addEventListener("remoteCloseWrite", () => void target.close());
  initiator.addEventListener("remoteCloseWrite", () => void initiator.close());
  let reason: CircuitEndReason | undefined;
  ended.then((r) => reason = r);
  await clock.advanceAsync(49);
  assert.equal(reason, undefined);
  await clock.advanceAsync(1);
  assert.equal(await ended, "duration_limit");
  assert.equal(await endedBy, "relay");
});

/** A real yamux stream pair over an in-memory connection; `remoteConn` is the side `remote` reads from. */
async function yamuxPair(): Promise<
  { local: Stream; remote: Stream; remoteConn: MultiaddrConnection }
> {
  const [localConn, remoteConn] = multiaddrConnectionPair();
  const muxers = yamux()();
  const remoteMuxer = muxers.createStreamMuxer(remoteConn);
  const incoming = new Promise<Stream>((resolve) =>
    remoteMuxer.addEventListener("stream", (evt) => resolve(evt.detail), { once: true })
  );
  const local = await muxers.createStreamMuxer(localConn).createStream();
  // The first frame (SYN) opens the stream on the remote side.
  local.send(new Uint8Array(1));
  return { local, remote: await incoming, remoteConn };
}

Deno.test("Circuit resets, and throws nothing, when a shaped half resumes after its connection closed", async () => {
  const { local: initiator, remote: hop, remoteConn } = await yamuxPair();
  const [stop, target] = await streamPair();
  const clock = new ManualClock(0);
  // Grants every other piece: each resume forwards one piece, then pauses again.
  let asks = 0;
  const flow = {
    take: (_nowMs: number, bytes: number) => asks++ % 2 ? bytes : 0,
    retryAfterMs: 20,
    close() {},
  };
  const { promise: ended, resolve } = Promise.withResolvers<CircuitEndReason>();
  new Circuit({
    src: hop,
    dst: stop,
    limit: { durationMs: 0, dataBytes: 0 },
    sourceKey: "src",
    onEnd: (_c, reason) => resolve(reason),
    flows: { up: flow, down: flow },
    clock,
  });
  target.addEventListener("message", () => {});
  const { promise: paused, resolve: onPaused } = Promise.withResolvers<void>();
  hop.addEventListener("message", () => queueMicrotask(onPaused), { once: true });
  initiator.send(new Uint8Array(1_000));
  await paused;
  assert.equal(hop.readStatus, "paused");
  // More data and the FIN arrive while the half is paused: they use up the receive window,
  // so resuming must send a window update.
  const { promise: finished, resolve: onFinished } = Promise.withResolvers<void>();
  hop.addEventListener("remoteCloseWrite", () => onFinished(), { once: true });
  for (let i = 0; i < 4; i++) initiator.send(new Uint8Array(16_384));
  await initiator.close();
  await finished;
  // The connection then closes cleanly: the half stays 'paused', and resuming it sends the
  // window update on the closed connection, which throws. Before the fix that error escaped
  // the shaping timer and ended the process.
  await remoteConn.close();
  assert.equal(hop.readStatus, "paused");
  // Each shaping pause forwards one more quantum of what was buffered; the resume after
  // the last one sends the window update.
  let reason: CircuitEndReason | undefined;
  ended.then((r) => reason = r);
  for (let i = 0; i < 100 && reason === undefined; i++) {
    clock.advance(20);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(reason, "reset");
  // The target's side is reset with it.
  assert.equal(stop.status, "aborted");
});

Deno.test("Circuit moves only what its flows granted: per circuit and per peer, a window holds rate × T + burst at most, with late timers", async (t) => {
  // Four circuits of one peer under one cap, their shaping timers firing up to 200 ms late
  // (a busy CPU). The old data path sent a 16 KiB piece and charged it after, so each
  // circuit could overdraw the peer's bucket by a piece: 64 KiB past the burst here.
  const RATE = 512 * 1024;
  const BURST = RATE * 0.1;
  const BYTES = 1024 * 1024;
  const cases: [string, Partial<BandwidthCaps>][] = [
    ["per circuit", { perCircuitBytesPerSecond: RATE }],
    ["per peer", { perPeerBytesPerSecond: RATE }],
  ];
  for (const [name, caps] of cases) {
    await t.step(name, async () => {
      const clock = new ManualClock(0);
      const shaper = new BandwidthShaper({
        perCircuitBytesPerSecond: 0,
        perPeerBytesPerSecond: 0,
        globalBytesPerSecond: 0,
        burstMs: 100,
        ...caps,
      });
      const sent: { atMs: number; bytes: number; circuit: number }[] = [];
      const received: number[] = [];
      for (let i = 0; i < 4; i++) {
        const [initiator, hop] = await streamPair();
        const [stop, target] = await streamPair();
        const send = stop.send.bind(stop);
        stop.send = (data) => {
          sent.push({ atMs: clock.nowMs(), bytes: data.byteLength, circuit: i });
          return send(data);
        };
        new Circuit({
          src: hop,
          dst: stop,
          limit: { durationMs: 0, dataBytes: 0 },
          sourceKey: "peer",
          onEnd: () => {},
          flows: { up: shaper.openFlow("peer"), down: shaper.openFlow("peer") },
          clock,
        });
        received[i] = 0;
        target.addEventListener("message", (evt) => void (received[i]! += evt.data.byteLength));
        for (let sentBytes = 0; sentBytes < BYTES; sentBytes += 64 * 1024) {
          initiator.send(new Uint8Array(64 * 1024));
        }
      }
      const late = seededRandom(7);
      for (let step = 0; step < 10_000 && received.some((n) => n < BYTES); step++) {
        // Whatever is due fires, up to 200 ms after it was due.
        clock.advance(1 + late() * 200);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      assert.deepEqual(received, [BYTES, BYTES, BYTES, BYTES]);
      const scopes = name === "per circuit"
        ? [0, 1, 2, 3].map((i) => sent.filter((s) => s.circuit === i))
        : [sent];
      for (const own of scopes) {
        const excess = largestExcess(own, RATE);
        assert.ok(excess <= BURST + 1e-6, `${Math.round(excess)} B past the rate, burst ${BURST}`);
      }
    });
  }
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

Deno.test("Circuit sends the small chunks of one task with one send, a full frame on its own", async () => {
  const [initiator, hop] = await streamPair();
  const [stop, target] = await streamPair();
  const sends: number[] = [];
  const send = stop.send.bind(stop);
  stop.send = (data) => {
    sends.push(data.byteLength);
    return send(data);
  };
  new Circuit({
    src: hop,
    dst: stop,
    limit: { durationMs: 0, dataBytes: 0 },
    sourceKey: "src",
    onEnd: () => {},
  });
  const total = 4 * 16_384 + 65_507 + 29;
  const arrived = Promise.withResolvers<void>();
  let received = 0;
  target.addEventListener("message", (evt) => {
    received += evt.data.byteLength;
    if (received === total) arrived.resolve();
  });
  // What a muxer does with the frames of one socket read: each is dispatched at once.
  const deliver = (hop as unknown as { onData(data: Uint8Array): void }).onData.bind(hop);
  for (let i = 0; i < 4; i++) deliver(new Uint8Array(16_384).fill(i));
  deliver(new Uint8Array(65_507));
  deliver(new Uint8Array(29));
  await Promise.resolve(); // the batch goes out when the task's synchronous work is done
  assert.deepEqual(sends, [4 * 16_384, 65_507, 29]);
  await arrived.promise;
  assert.equal(received, total);
  await Promise.all([initiator.close(), target.close()]);
});
