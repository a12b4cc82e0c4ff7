// Stock js-libp2p relay clients for bench/relay_vs_peers.ts, one file for Node
// (`node bench/relay_vs_peers/js_client.mjs MODE …`) and Deno (`deno run -A … MODE …`):
// createClient's stack from tests/interop/relay_echo_client.mjs (tcp, webSockets,
// circuitRelayTransport, noise, yamux, identify), none of hopd's code. Modes, as every client
// language of the bench has them:
//
//   js_client.mjs sink RELAY            reserves on RELAY, serves the sink protocol
//   js_client.mjs source RELAY PEERID   dials PEERID through RELAY; {"go":N} streams N bytes
//
// The sink protocol (/hopd-bench/sink/1.0.0): the source opens a stream, writes N bytes in 64
// KiB writes (`send`, waiting for 'drain' when it asks) and closes its write side; the sink
// reads to the end (`for await`), answers the count as 8 bytes big-endian and closes; the
// source checks the count. JSON lines: reports on stdout, commands on stdin; exits when stdin
// closes.
import process from "node:process";
import readline from "node:readline";

// js-libp2p 3 needs Promise.withResolvers and a global WebSocket, which Node 20 lacks.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
if (typeof globalThis.WebSocket !== "function") {
  globalThis.WebSocket = (await import("ws")).WebSocket;
}

const { multiaddr } = await import("@multiformats/multiaddr");
const { createClient, waitForCircuitAddr } = await import(
  "../../tests/interop/relay_echo_client.mjs"
);

const SINK_PROTOCOL = "/hopd-bench/sink/1.0.0";
const CHUNK_BYTES = 64 * 1024;
const RESERVE_TIMEOUT_MS = 60_000;

const isNode = typeof Deno === "undefined";
const [mode, relayAddr, target] = isNode ? process.argv.slice(2) : Deno.args;

function emit(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

async function* commands() {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    try {
      yield JSON.parse(line);
    } catch {
      // not a command
    }
  }
}

/** Reads a sink stream to its end and answers the byte count. */
async function serveSink(stream) {
  try {
    let count = 0;
    for await (const chunk of stream) count += chunk.byteLength;
    const answer = new Uint8Array(8);
    new DataView(answer.buffer).setBigUint64(0, BigInt(count));
    stream.send(answer);
    await stream.close();
  } catch (error) {
    stream.abort(error);
  }
}

async function sink() {
  const node = await createClient([`${relayAddr}/p2p-circuit`]);
  await node.handle(SINK_PROTOCOL, serveSink, { runOnLimitedConnection: true });
  await waitForCircuitAddr(node, RESERVE_TIMEOUT_MS);
  emit({ ready: true, peerId: node.peerId.toString() });
  for await (const _ of commands()) { /* serve until stdin closes */ }
  await node.stop();
}

/** One round: a new sink stream, `bytes` sent in 64 KiB writes, the sink's count checked. */
async function round(connection, bytes) {
  const stream = await connection.newStream(SINK_PROTOCOL, { runOnLimitedConnection: true });
  const answered = new Promise((resolve, reject) => {
    const answer = [];
    let got = 0;
    stream.addEventListener("message", (evt) => {
      answer.push(evt.data.subarray());
      got += evt.data.byteLength;
      if (got < 8) return;
      const joined = new Uint8Array(got);
      let at = 0;
      for (const part of answer) {
        joined.set(part, at);
        at += part.byteLength;
      }
      resolve(Number(new DataView(joined.buffer).getBigUint64(0)));
    });
    stream.addEventListener("close", (evt) => {
      if (got < 8) reject(evt.error ?? new Error("sink stream closed without a count"));
    });
  });
  const chunk = new Uint8Array(CHUNK_BYTES);
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    const size = Math.min(CHUNK_BYTES, bytes - sent);
    if (!stream.send(size === CHUNK_BYTES ? chunk : chunk.subarray(0, size))) {
      await stream.onDrain();
    }
  }
  await stream.close();
  const counted = await answered;
  if (counted !== bytes) throw new Error(`sink counted ${counted} bytes of ${bytes}`);
}

async function source() {
  const node = await createClient();
  const connection = await node.dial(
    multiaddr(`${relayAddr}/p2p-circuit/p2p/${target}`),
  );
  emit({ ready: true });
  for await (const command of commands()) {
    if (typeof command.go !== "number") continue;
    const startedAt = performance.now();
    try {
      await round(connection, command.go);
      emit({ done: true, bytes: command.go, elapsedMs: performance.now() - startedAt });
    } catch (error) {
      emit({ done: true, error: String(error) });
    }
  }
  await node.stop();
}

if (mode === "sink" && relayAddr !== undefined) await sink();
else if (mode === "source" && relayAddr !== undefined && target !== undefined) await source();
else {
  console.error("usage: js_client.mjs sink RELAY | source RELAY PEERID");
  process.exit(2);
}
process.exit(0);
