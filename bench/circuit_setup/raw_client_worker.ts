// Client processes for bench/circuit_setup.ts. Each node is a STOCK js-libp2p node (tcp,
// noise, yamux, identify; none of hopd's connection stack) holding ONE connection to the
// relay; the circuit relay v2 hop/stop exchanges are spoken by hand over new streams on that
// connection (length-prefixed protobuf, hopd's codecs from src/relay/pb/), and the relayed
// stream is used as raw bytes: no Noise, yamux or identify over the circuit, so a circuit
// costs the clients a few streams, not two handshakes. One mode per process:
//
//   raw_client_worker.ts targets <relayAddr> <n>  n nodes: RESERVE, then answer every STOP
//                                                 CONNECT with STATUS OK and echo the bytes
//   raw_client_worker.ts dialers <relayAddr> <n>  n nodes; on {"run":{...}} open paced
//                                                 circuits: hop CONNECT, time the STATUS,
//                                                 echo a payload, close
//                                                 or, on {"hold":{...}}, open circuits and
//                                                 keep them open (one echo each) until
//                                                 {"release":true} (bench/circuit_memory.ts)
//   raw_client_worker.ts holders <relayAddr> <n> <concurrency>
//                                                 n nodes that RESERVE and hold, at most
//                                                 <concurrency> setting up at once; reports
//                                                 {"done":true,...}, then on {"check":true}
//                                                 how many are still connected
//                                                 (bench/reservations_held.ts)
//
// Talks JSON lines (bench/relay_vs_stock/_lines.ts): reports on stdout, commands on stdin;
// exits when stdin closes.

import { identify } from "@libp2p/identify";
import type { Connection, Libp2p, Stream, StreamMessageEvent } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { peerIdFromString } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { Uint8ArrayList } from "uint8arraylist";
import {
  decodeHopMessage,
  decodeStopMessage,
  encodeHopMessage,
  encodeStopMessage,
} from "../../src/relay/pb/circuit.ts";
import { emit, jsonLines } from "../relay_vs_stock/_lines.ts";

const HOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/hop";
const STOP_PROTOCOL = "/libp2p/circuit/relay/0.2.0/stop";
const LARGE = 1_000_000;
/** A circuit not done within this is aborted and counted as an error. */
const CIRCUIT_TIMEOUT_MS = 10_000;
/** Bytes echoed through each circuit (proves the relay pipes both ways). */
const PAYLOAD_BYTES = 32;
/**
 * Circuits one dialer node keeps in flight; one more is shed (counted, not started). Below
 * the stock relay's 32 inbound hop streams per connection (libp2p's registrar default), so a
 * backlog shows up as shed circuits rather than as the stock relay's stream-limit resets.
 */
const MAX_IN_FLIGHT_PER_NODE = 24;

const [mode, relayAddr, countArg] = Deno.args;
if (mode === undefined || relayAddr === undefined) throw new TypeError("usage: MODE RELAY N");
const count = Number(countArg ?? 1);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A stock node that only dials out: monitor off, no inbound per-IP threshold. */
function stockNode(): Promise<Libp2p> {
  return createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionMonitor: { enabled: false },
    connectionManager: { maxConnections: LARGE, inboundConnectionThreshold: LARGE },
  });
}

/** Prefixes `payload` with its unsigned-varint length. */
function frame(payload: Uint8Array): Uint8Array {
  const prefix: number[] = [];
  let length = payload.byteLength;
  while (length >= 0x80) {
    prefix.push((length & 0x7f) | 0x80);
    length >>>= 7;
  }
  prefix.push(length);
  const out = new Uint8Array(prefix.length + payload.byteLength);
  out.set(prefix);
  out.set(payload, prefix.length);
  return out;
}

/** Buffers a stream's incoming bytes; reads varint-prefixed frames or raw byte counts. */
class Inbox {
  readonly #buffer = new Uint8ArrayList();
  #wake: (() => void) | undefined;
  #ended: Error | undefined;
  #sink: ((data: Uint8Array | Uint8ArrayList) => void) | undefined;

  constructor(stream: Stream) {
    stream.addEventListener("message", (evt: StreamMessageEvent) => {
      if (this.#sink !== undefined) return this.#sink(evt.data);
      this.#buffer.append(evt.data);
      this.#wake?.();
    });
    const end = (error?: Error) => {
      this.#ended ??= error ?? new Error("stream ended");
      this.#wake?.();
    };
    stream.addEventListener("close", (evt) => end(evt.error));
    stream.addEventListener("remoteCloseWrite", () => end());
  }

  async #until<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      const value = take();
      if (value !== undefined) return value;
      if (this.#ended !== undefined) throw this.#ended;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  /** The next frame's payload. */
  frame(): Promise<Uint8Array> {
    return this.#until(() => {
      let length = 0;
      for (let i = 0; i < Math.min(this.#buffer.byteLength, 5); i++) {
        const byte = this.#buffer.get(i);
        length += (byte & 0x7f) * 128 ** i;
        if ((byte & 0x80) !== 0) continue;
        if (this.#buffer.byteLength < i + 1 + length) return undefined;
        const payload = this.#buffer.subarray(i + 1, i + 1 + length);
        this.#buffer.consume(i + 1 + length);
        return payload;
      }
      return undefined;
    });
  }

  /** Exactly `n` bytes. */
  bytes(n: number): Promise<Uint8Array> {
    return this.#until(() => {
      if (this.#buffer.byteLength < n) return undefined;
      const bytes = this.#buffer.subarray(0, n);
      this.#buffer.consume(n);
      return bytes;
    });
  }

  /** From now on hands every byte (those buffered first) to `sink` instead of buffering. */
  forward(sink: (data: Uint8Array | Uint8ArrayList) => void): void {
    this.#sink = sink;
    if (this.#buffer.byteLength > 0) sink(this.#buffer.sublist());
    this.#buffer.consume(this.#buffer.byteLength);
  }
}

/** Hop RESERVE on `connection`; throws unless the relay answers STATUS OK. */
async function reserve(connection: Connection): Promise<void> {
  const stream = await connection.newStream(HOP_PROTOCOL);
  const inbox = new Inbox(stream);
  stream.send(frame(encodeHopMessage({ type: "RESERVE" })));
  const reply = decodeHopMessage(await inbox.frame());
  if (reply.type !== "STATUS" || reply.status !== "OK") {
    throw new Error(`RESERVE answered ${reply.type} ${reply.status}`);
  }
  await stream.close().catch(() => {});
}

/** Stop handler of a target: CONNECT → STATUS OK, then echo until the other side closes. */
async function serveStop(stream: Stream, stats: { served: number; failed: number }) {
  const inbox = new Inbox(stream);
  try {
    const request = decodeStopMessage(await inbox.frame());
    if (request.type !== "CONNECT") throw new Error(`STOP ${request.type}, not CONNECT`);
    stream.send(frame(encodeStopMessage({ type: "STATUS", status: "OK" })));
    const echo = (data: Uint8Array | Uint8ArrayList) => {
      if (data.byteLength > 0 && stream.writeStatus === "writable") stream.send(data);
    };
    inbox.forward(echo);
    stream.addEventListener("remoteCloseWrite", () => void stream.close().catch(() => {}));
    stats.served++;
  } catch (error) {
    stats.failed++;
    stream.abort(error as Error);
  }
}

async function targets(): Promise<void> {
  const stats = { served: 0, failed: 0 };
  const nodes = await Promise.all(Array.from({ length: count }, async () => {
    const node = await stockNode();
    await node.handle(STOP_PROTOCOL, (stream) => void serveStop(stream, stats), {
      maxInboundStreams: LARGE,
    });
    await reserve(await node.dial(multiaddr(relayAddr)));
    return node;
  }));
  emit({ ready: true, peerIds: nodes.map((n) => n.peerId.toString()) });
  for await (const command of jsonLines(Deno.stdin.readable)) {
    if (command.stats === true) emit({ stats: true, ...stats });
  }
  await Promise.allSettled(nodes.map((n) => n.stop()));
}

interface CircuitTimes {
  /** newStream(hop): yamux open + multistream-select round trip with the relay. */
  openMs: number;
  /** HopMessage CONNECT sent → STATUS OK read: the relay's setup as the dialer sees it. */
  connectMs: number;
  /** Payload written → echo read back through relay and target. */
  echoMs: number;
  /** Whole circuit, from newStream to our close. */
  totalMs: number;
}

/** One circuit over `connection` to `target` (multihash bytes). */
async function oneCircuit(connection: Connection, target: Uint8Array): Promise<CircuitTimes> {
  const signal = AbortSignal.timeout(CIRCUIT_TIMEOUT_MS);
  const t0 = performance.now();
  const stream = await connection.newStream(HOP_PROTOCOL, { signal });
  const abort = () => stream.abort(new Error("circuit timed out"));
  signal.addEventListener("abort", abort, { once: true });
  try {
    const inbox = new Inbox(stream);
    const t1 = performance.now();
    stream.send(frame(encodeHopMessage({ type: "CONNECT", peer: { id: target, addrs: [] } })));
    const reply = decodeHopMessage(await inbox.frame());
    const t2 = performance.now();
    if (reply.type !== "STATUS" || reply.status !== "OK") {
      throw new Error(`CONNECT answered ${reply.type} ${reply.status}`);
    }
    const payload = crypto.getRandomValues(new Uint8Array(PAYLOAD_BYTES));
    stream.send(payload);
    const echoed = await inbox.bytes(PAYLOAD_BYTES);
    const t3 = performance.now();
    if (!echoed.every((b, i) => b === payload[i])) throw new Error("echo differs");
    await stream.close({ signal });
    return {
      openMs: t1 - t0,
      connectMs: t2 - t1,
      echoMs: t3 - t2,
      totalMs: performance.now() - t0,
    };
  } catch (error) {
    stream.abort(error as Error);
    throw error;
  } finally {
    signal.removeEventListener("abort", abort);
  }
}

interface RunCommand {
  /** Circuits per second this process opens (its share of the total). */
  rate: number;
  circuits: number;
  /** Epoch ms of the first circuit (all dialer processes start together). */
  startAtMs: number;
  /** Target peer ids, used round robin from `firstTarget`. */
  targets: string[];
  firstTarget: number;
}

async function run(connections: Connection[], command: RunCommand) {
  const targetIds = command.targets.map((t) => peerIdFromString(t).toMultihash().bytes);
  const times: CircuitTimes[] = [];
  const errors: string[] = [];
  const inFlight = connections.map(() => 0);
  let shed = 0;
  let maxLateMs = 0;
  const start = performance.now() + (command.startAtMs - Date.now());
  const running: Promise<void>[] = [];
  for (let i = 0; i < command.circuits; i++) {
    // Open loop: circuit i is due at i / rate whatever the earlier circuits are doing.
    const due = start + (i * 1000) / command.rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxLateMs = Math.max(maxLateMs, performance.now() - due);
    const n = i % connections.length;
    if (inFlight[n]! >= MAX_IN_FLIGHT_PER_NODE) {
      shed++;
      continue;
    }
    inFlight[n]!++;
    const target = targetIds[(command.firstTarget + i) % targetIds.length]!;
    running.push(
      oneCircuit(connections[n]!, target).then(
        (t) => void times.push(t),
        (error) => void errors.push(String(error)),
      ).finally(() => inFlight[n]!--),
    );
  }
  const lastStartMs = performance.now() - start;
  await Promise.all(running);
  return {
    done: true,
    circuits: command.circuits,
    ok: times.length,
    errors: errors.length,
    shed,
    firstErrors: [...new Set(errors)].slice(0, 3),
    lastStartMs,
    elapsedMs: performance.now() - start,
    maxLateMs,
    openMs: times.map((t) => t.openMs),
    connectMs: times.map((t) => t.connectMs),
    echoMs: times.map((t) => t.echoMs),
    totalMs: times.map((t) => t.totalMs),
  };
}

/** Opens a circuit to `target`, echoes once through it and leaves it open. */
async function openCircuit(connection: Connection, target: Uint8Array): Promise<Stream> {
  const stream = await connection.newStream(HOP_PROTOCOL, {
    signal: AbortSignal.timeout(CIRCUIT_TIMEOUT_MS),
    // Circuits held open, past libp2p's 64 outbound streams per protocol.
    maxOutboundStreams: LARGE,
  });
  try {
    const inbox = new Inbox(stream);
    stream.send(frame(encodeHopMessage({ type: "CONNECT", peer: { id: target, addrs: [] } })));
    const reply = decodeHopMessage(await inbox.frame());
    if (reply.type !== "STATUS" || reply.status !== "OK") {
      throw new Error(`CONNECT answered ${reply.type} ${reply.status}`);
    }
    const payload = crypto.getRandomValues(new Uint8Array(PAYLOAD_BYTES));
    stream.send(payload);
    const echoed = await inbox.bytes(PAYLOAD_BYTES);
    if (!echoed.every((b, i) => b === payload[i])) throw new Error("echo differs");
    return stream;
  } catch (error) {
    stream.abort(error as Error);
    throw error;
  }
}

interface HoldCommand {
  circuits: number;
  /** Target peer ids, used round robin. */
  targets: string[];
}

/** Opens `circuits` circuits over the connections, `MAX_IN_FLIGHT_PER_NODE` at a time each. */
async function hold(connections: Connection[], command: HoldCommand, held: Stream[]) {
  const targetIds = command.targets.map((t) => peerIdFromString(t).toMultihash().bytes);
  const errors: string[] = [];
  let next = 0;
  const startedAt = performance.now();
  const lane = async (n: number) => {
    while (next < command.circuits) {
      const i = next++;
      try {
        held.push(await openCircuit(connections[n]!, targetIds[i % targetIds.length]!));
      } catch (error) {
        errors.push(String(error));
      }
    }
  };
  const lanes = connections.flatMap((_, n) => Array.from({ length: 8 }, () => lane(n)));
  await Promise.all(lanes);
  return {
    held: true,
    open: held.length,
    failed: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 3),
    elapsedMs: performance.now() - startedAt,
  };
}

async function dialers(): Promise<void> {
  const nodes = await Promise.all(Array.from({ length: count }, stockNode));
  const connections = await Promise.all(nodes.map((n) => n.dial(multiaddr(relayAddr))));
  const held: Stream[] = [];
  emit({ ready: true });
  for await (const command of jsonLines(Deno.stdin.readable)) {
    if (command.run !== undefined) emit(await run(connections, command.run as RunCommand));
    if (command.hold !== undefined) {
      emit(await hold(connections, command.hold as HoldCommand, held));
    }
    if (command.release === true) {
      const streams = held.splice(0);
      await Promise.allSettled(streams.map((s) => s.close()));
      emit({ released: streams.length });
    }
  }
  await Promise.allSettled(nodes.map((n) => n.stop()));
}

/** One holder: a node, its connection to the relay and its reservation. */
async function holder(): Promise<Libp2p> {
  const node = await stockNode();
  try {
    await reserve(await node.dial(multiaddr(relayAddr)));
    return node;
  } catch (error) {
    await Promise.resolve(node.stop()).catch(() => {});
    throw error;
  }
}

async function holders(): Promise<void> {
  const concurrency = Number(Deno.args[3] ?? 20);
  const nodes: Libp2p[] = [];
  const errors = new Map<string, number>();
  let next = 0;
  let failed = 0;
  const startedAt = performance.now();
  const lane = async () => {
    while (next < count) {
      next++;
      try {
        nodes.push(await holder());
      } catch (error) {
        failed++;
        const key = String((error as Error).message ?? error).slice(0, 160);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  emit({
    done: true,
    reserved: nodes.length,
    failed,
    errors: Object.fromEntries(errors),
    elapsedMs: performance.now() - startedAt,
  });
  // Hold until told to go; then report how many connections are still open.
  for await (const command of jsonLines(Deno.stdin.readable)) {
    if (command.check === true) {
      emit({
        check: true,
        connected: nodes.filter((n) => n.getConnections().some((c) => c.status === "open"))
          .length,
      });
    }
  }
  await Promise.allSettled(nodes.map((n) => n.stop()));
}

switch (mode) {
  case "holders":
    await holders();
    break;
  case "targets":
    await targets();
    break;
  case "dialers":
    await dialers();
    break;
  default:
    throw new TypeError(`unknown mode '${mode}'`);
}
Deno.exit(0);
