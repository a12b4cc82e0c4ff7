/**
 * Bounded fuzz run against a real relay node on 127.0.0.1: random and mutated hop frames from
 * a source peer, and random, mutated, stalled or reset stop answers from a reserved target.
 * Asserts the relay neither crashes nor leaks: once the peers leave, no reservation or
 * circuit is held, and a fresh peer can still reserve. The seed is printed on failure.
 *
 * libp2p leaves internal timers running briefly after `stop()`, so the op/resource
 * sanitizers are off.
 */

import assert from "node:assert/strict";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { encodeFrame } from "../src/relay/_framing.ts";
import { HOP_PROTOCOL, STOP_PROTOCOL } from "../src/relay/constants.ts";
import { encodeHopMessage, encodeStopMessage } from "../src/relay/pb/circuit.ts";
import { hopExchange, startPlainClient, startRelay, untilRelay } from "./relay_helpers.ts";
import { seededRandom } from "../src/ratelimit/testing.ts";
import { ManualClock } from "../src/clock/mod.ts";

const ITERATIONS = 400;
const CONCURRENCY = 16;

function mutate(rand: () => number, bytes: Uint8Array): Uint8Array {
  const out = [...bytes];
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const op = rand();
    const at = Math.floor(rand() * (out.length + 1));
    if (op < 0.4 && out.length > 0) out[at % out.length] = Math.floor(rand() * 256);
    else if (op < 0.6) out.splice(at, 1);
    else if (op < 0.8) out.splice(at, 0, Math.floor(rand() * 256));
    else out.length = Math.floor(rand() * out.length);
  }
  return Uint8Array.from(out);
}

function randomBytes(rand: () => number, max: number): Uint8Array {
  return Uint8Array.from({ length: Math.floor(rand() * max) }, () => Math.floor(rand() * 256));
}

/** What a peer does with a stream after sending its bytes. */
async function finish(rand: () => number, stream: Stream): Promise<void> {
  const r = rand();
  if (r < 0.25) stream.abort(new Error("fuzz reset"));
  else if (r < 0.5) await stream.close().catch(() => {});
  else {
    // Pacing, not waiting: read whatever comes back for a random 0-50 ms, then leave, so the
    // fuzz varies where in the relay's piping a peer goes away.
    await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 50)));
    if (rand() < 0.5) stream.abort(new Error("fuzz reset late"));
    else await stream.close().catch(() => {});
  }
}

/** Sends `bytes` in random pieces. */
function sendSplit(rand: () => number, stream: Stream, bytes: Uint8Array): void {
  let i = 0;
  while (i < bytes.byteLength && stream.writeStatus === "writable") {
    const n = 1 + Math.floor(rand() * bytes.byteLength);
    stream.send(bytes.subarray(i, i + n));
    i += n;
  }
}

/** Opens one hop stream and sends it valid, mutated or random bytes, then leaves somehow. */
async function fuzzHopStream(
  rand: () => number,
  conn: Connection,
  templates: Uint8Array[],
): Promise<void> {
  let stream: Stream;
  try {
    stream = await conn.newStream(HOP_PROTOCOL);
  } catch {
    return;
  }
  const r = rand();
  const template = templates[Math.floor(rand() * templates.length)] ?? new Uint8Array();
  let bytes: Uint8Array;
  if (r < 0.3) bytes = template; // valid: exercises the full paths, target misbehaves
  else if (r < 0.8) bytes = mutate(rand, template);
  else bytes = randomBytes(rand, 64);
  try {
    sendSplit(rand, stream, bytes);
    if (r < 0.3 && rand() < 0.5) sendSplit(rand, stream, randomBytes(rand, 4096));
  } catch {
    // the relay reset the stream first
  }
  await finish(rand, stream);
}

function stopHandler(seed: number): (stream: Stream) => void {
  const rand = seededRandom(seed);
  return (stream) => {
    const r = rand();
    const ok = encodeFrame(encodeStopMessage({ type: "STATUS", status: "OK" }));
    try {
      if (r < 0.3) stream.send(ok); // accept: relay must pipe, then tear down cleanly
      else if (r < 0.5) stream.send(mutate(rand, ok));
      else if (r < 0.6) stream.send(randomBytes(rand, 32));
      else if (r < 0.7) stream.send(encodeFrame(new Uint8Array(5000)));
      else if (r < 0.8) stream.abort(new Error("target resets"));
      // else: stall and let the relay's timeout fire
    } catch {
      // the relay may already have reset the stream
    }
    // Pacing, not waiting: an accepting target hangs up 30 ms in, with the circuit piping.
    if (r < 0.3) setTimeout(() => stream.abort(new Error("target done")), 30);
  };
}

Deno.test({
  name: "relay survives random and mutated hop and stop frames without leaking slots",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seed = Number(Deno.env.get("HOPD_FUZZ_SEED") ?? Date.now() % 1_000_000);
    const rand = seededRandom(seed);
    // The relay's timeouts run on a clock the test moves: the fuzzing peers run in real time,
    // the setups they stall time out when the test says.
    const clock = new ManualClock();
    const fixture = await startRelay({ handshakeTimeoutMs: 200, maxReservationsPerIp: 0 }, clock);
    const source = await startPlainClient();
    const targetNode = await startPlainClient();
    const nodes: Libp2p[] = [source, targetNode];
    try {
      await targetNode.handle(STOP_PROTOCOL, stopHandler(seed + 1), {
        maxInboundStreams: 1_000,
      });
      const targetConn = await targetNode.dial(fixture.tcpAddr);
      assert.equal((await hopExchange(targetConn, { type: "RESERVE" })).response.status, "OK");
      const conn: Connection = await source.dial(fixture.tcpAddr);
      // yamux resets a connection that opens over 10 streams before the first is accepted:
      // finish one exchange before going concurrent.
      assert.equal((await hopExchange(conn, { type: "RESERVE" })).response.status, "OK");
      const templates = [
        encodeFrame(encodeHopMessage({ type: "RESERVE" })),
        encodeFrame(encodeHopMessage({
          type: "CONNECT",
          peer: { id: targetNode.peerId.toMultihash().bytes, addrs: [] },
        })),
        encodeFrame(encodeHopMessage({ type: "STATUS", status: "OK" })),
      ];

      for (let i = 0; i < ITERATIONS; i += CONCURRENCY) {
        await Promise.all(
          Array.from({ length: CONCURRENCY }, () => fuzzHopStream(rand, conn, templates)),
        );
      }
      // Stalled setups hit their timeout.
      clock.advance(200);
      assert.ok(
        await untilRelay(fixture.relay, () => fixture.relay.stats().streamErrors > 0),
        "fuzz never reached the error paths",
      );

      await source.stop();
      await targetNode.stop();
      nodes.length = 0;
      const clean = await untilRelay(fixture.relay, () => {
        const { reservations, circuits } = fixture.relay.stats();
        return reservations === 0 && circuits === 0;
      });
      assert.ok(clean, `seed ${seed}: relay still holds ${JSON.stringify(fixture.relay.stats())}`);

      const fresh = await startPlainClient();
      nodes.push(fresh);
      const freshConn = await fresh.dial(fixture.tcpAddr);
      assert.equal(
        (await hopExchange(freshConn, { type: "RESERVE" })).response.status,
        "OK",
        `seed ${seed}: relay stopped serving`,
      );
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
      await fixture.stop();
    }
  },
});
