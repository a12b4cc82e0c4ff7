// Stock js-libp2p client processes for bench/relay_vs_stock.ts (createClient from
// tests/interop/relay_echo_client.mjs: tcp + webSockets + circuitRelayTransport, noise,
// yamux, identify; none of hopd's code). They run apart from the relays so their CPU is
// not counted against a relay. Reserving clients (reserve mode) differ in one setting, see
// holdingClient(). One mode per process:
//
//   client_worker.ts throughput <relayAddr>   A reserves, B dials A; on each {"go":N} B
//                                             streams N bytes one way, A counts them
//   client_worker.ts reserve <relayAddr> <n> <concurrency>
//                                             n client nodes, each holding a reservation
//   client_worker.ts targets <relayAddr> <n>  n reserved echo targets; prints circuit addrs
//   client_worker.ts dialers <relayAddr> <n>  n dialers; on {"go":...} opens paced circuits
//
// Talks JSON lines: reports on stdout, commands on stdin; exits when stdin closes.

import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { identify } from "@libp2p/identify";
import type { Libp2p, Stream } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import {
  createClient,
  ECHO_PROTOCOL,
  serveEcho,
  waitForCircuitAddr,
} from "../../tests/interop/relay_echo_client.mjs";
import { emit, jsonLines } from "./_lines.ts";

const SINK_PROTOCOL = "/hopd-bench/sink/1.0.0";
const CHUNK_BYTES = 64 * 1024;
const RESERVE_TIMEOUT_MS = 120_000;
// A reservation whose relay dial misses the circuit transport's fixed 5 s listen timeout
// (it happens while thousands of handshakes queue on 2 cores) is tried again this often.
const RESERVE_ATTEMPTS = 3;
// libp2p's default is a ping on every connection every 10 s, aborted after 5 s: ~1 ms of
// relay CPU per ping, so 10,000 clients alone would keep a relay's one JS thread near 100%.
const HOLD_PING_INTERVAL_MS = 60_000;

const [mode, relayAddr, ...rest] = Deno.args;
if (mode === undefined || relayAddr === undefined) throw new TypeError("usage: MODE RELAY ...");

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A client that only holds a reservation: createClient's stack, but its connection monitor
 * pings every 60 s and never aborts. With thousands of clients per worker process on 2
 * cores, the default (ping every 10 s, abort after 5 s) makes the bench measure its own
 * CPU saturation: once the relay or a worker falls 5 s behind, thousands of clients abort
 * their relay connection within seconds and the held count falls in one step. Real
 * clients are one per machine and do not share that CPU.
 */
function holdingClient(listen: string[]): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionGater: { denyDialMultiaddr: () => false },
    connectionMonitor: {
      pingInterval: HOLD_PING_INTERVAL_MS,
      abortConnectionOnPingFailure: false,
    },
  });
}

/** A holding client with a reservation, retried when the relay dial times out. */
async function heldReservation(): Promise<Libp2p> {
  for (let attempt = 1;; attempt++) {
    try {
      return await reservedClient(RESERVE_TIMEOUT_MS, holdingClient);
    } catch (error) {
      if (attempt >= RESERVE_ATTEMPTS) throw error;
    }
  }
}

/** A reserved client: listens on `<relay>/p2p-circuit` and waits for its circuit address. */
async function reservedClient(
  timeoutMs = RESERVE_TIMEOUT_MS,
  create: (listen: string[]) => Promise<Libp2p> = createClient,
): Promise<Libp2p> {
  const node = await create([`${relayAddr}/p2p-circuit`]);
  try {
    await waitForCircuitAddr(node, timeoutMs);
  } catch (error) {
    await Promise.resolve(node.stop()).catch(() => {});
    throw error;
  }
  return node;
}

function circuitAddrOf(node: Libp2p): string {
  return `${relayAddr}/p2p-circuit/p2p/${node.peerId.toString()}`;
}

/** Sends `bytes` with backpressure on `stream` (one reused zero-filled chunk). */
async function sendBytes(stream: Stream, bytes: number): Promise<void> {
  const chunk = new Uint8Array(CHUNK_BYTES);
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    const size = Math.min(CHUNK_BYTES, bytes - sent);
    if (!stream.send(size === CHUNK_BYTES ? chunk : chunk.subarray(0, size))) {
      await stream.onDrain();
    }
  }
}

async function throughput(): Promise<void> {
  const a = await reservedClient();
  let received = 0;
  let waiter: { target: number; resolve: () => void } | undefined;
  await a.handle(SINK_PROTOCOL, (stream) => {
    stream.addEventListener("message", (evt) => {
      received += evt.data.byteLength;
      if (waiter !== undefined && received >= waiter.target) waiter.resolve();
    });
  }, { runOnLimitedConnection: true });
  const b = await createClient();
  const connection = await b.dial(multiaddr(circuitAddrOf(a)));
  emit({ ready: true, remoteAddr: connection.remoteAddr.toString() });
  for await (const command of jsonLines(Deno.stdin.readable)) {
    const bytes = Number(command.go);
    const stream = await connection.newStream(SINK_PROTOCOL, { runOnLimitedConnection: true });
    const done = Promise.withResolvers<void>();
    waiter = { target: received + bytes, resolve: done.resolve };
    const startedAt = performance.now();
    await sendBytes(stream, bytes);
    await done.promise;
    const elapsedMs = performance.now() - startedAt;
    await stream.close().catch(() => {});
    emit({ done: true, bytes, elapsedMs });
  }
  await Promise.allSettled([a.stop(), b.stop()]);
}

async function reserve(): Promise<void> {
  const count = Number(rest[0]);
  const concurrency = Number(rest[1] ?? 50);
  const nodes: Libp2p[] = [];
  const errors: string[] = [];
  let next = 0;
  const startedAt = performance.now();
  // Commands, read from the start: {"halt":true} ends the ramp early (attempts in flight
  // finish; no new ones start), {"count":true} asks how many nodes still announce a circuit
  // address (hold a reservation). The process exits when the orchestrator closes stdin (the
  // relay sees the connections drop, which is all the bench needs).
  const commands = (async () => {
    for await (const command of jsonLines(Deno.stdin.readable)) {
      if (command.halt === true) next = count;
      if (command.count !== true) continue;
      const holding = nodes.filter((n) =>
        n.getMultiaddrs().some((ma) => ma.toString().includes("/p2p-circuit"))
      ).length;
      emit({ holding });
    }
  })();
  const lane = async () => {
    while (next < count) {
      next++;
      try {
        nodes.push(await heldReservation());
      } catch (error) {
        errors.push(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  emit({
    done: true,
    reserved: nodes.length,
    failed: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 5),
    elapsedMs: performance.now() - startedAt,
  });
  await commands;
}

async function targets(): Promise<void> {
  const count = Number(rest[0]);
  const nodes = await Promise.all(Array.from({ length: count }, async () => {
    // A relay busy holding thousands of reservations can miss the circuit transport's 5 s
    // listen timeout: try again, as the reserving clients do.
    for (let attempt = 1;; attempt++) {
      try {
        const node = await reservedClient();
        await serveEcho(node);
        return node;
      } catch (error) {
        if (attempt >= RESERVE_ATTEMPTS) throw error;
      }
    }
  }));
  emit({ ready: true, addrs: nodes.map(circuitAddrOf) });
  for await (const _ of jsonLines(Deno.stdin.readable)) { /* keep serving */ }
  await Promise.allSettled(nodes.map((n) => n.stop()));
}

/** One circuit: dial + new stream (what dialProtocol does), a 32-byte echo, close. */
async function oneCircuit(
  dialer: Libp2p,
  target: string,
  seen: Set<string>,
): Promise<{ dialMs: number; totalMs: number; reused: boolean }> {
  const payload = new Uint8Array(32).fill(7);
  const startedAt = performance.now();
  const connection = await dialer.dial(multiaddr(target));
  const stream = await connection.newStream(ECHO_PROTOCOL, { runOnLimitedConnection: true });
  const dialMs = performance.now() - startedAt;
  const reused = seen.has(connection.id);
  seen.add(connection.id);
  const echoed = new Promise<void>((resolve, reject) => {
    let got = 0;
    stream.addEventListener("message", (evt) => {
      got += evt.data.byteLength;
      if (got >= payload.byteLength) resolve();
    });
    stream.addEventListener("close", (evt) => {
      if (got < payload.byteLength) reject(evt.error ?? new Error("echo stream closed early"));
    });
  });
  stream.send(payload);
  await echoed;
  const totalMs = performance.now() - startedAt;
  await connection.close();
  return { dialMs, totalMs, reused };
}

async function dialers(): Promise<void> {
  const count = Number(rest[0]);
  const nodes = await Promise.all(Array.from({ length: count }, () => createClient()));
  // Open each dialer's connection to the relay now, so measured circuits reuse it.
  await Promise.all(nodes.map((n) => n.dial(multiaddr(relayAddr!))));
  const seen = new Set<string>();
  emit({ ready: true });
  for await (const command of jsonLines(Deno.stdin.readable)) {
    const circuits = Number(command.circuits);
    const ratePerSecond = Number(command.rate);
    const targetAddrs = command.targets as string[];
    const dialMs: number[] = [];
    const totalMs: number[] = [];
    const errors: string[] = [];
    let reused = 0;
    const startedAt = performance.now();
    const running: Promise<void>[] = [];
    for (let i = 0; i < circuits; i++) {
      // Open loop: circuit i starts at i / rate seconds whatever the others are doing.
      const due = startedAt + (i * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const dialer = nodes[i % nodes.length]!;
      const target = targetAddrs[i % targetAddrs.length]!;
      running.push(
        oneCircuit(dialer, target, seen).then(
          (r) => {
            dialMs.push(r.dialMs);
            totalMs.push(r.totalMs);
            if (r.reused) reused++;
          },
          (error) => {
            errors.push(String(error));
          },
        ),
      );
    }
    await Promise.all(running);
    const elapsedMs = performance.now() - startedAt;
    emit({
      done: true,
      circuits,
      elapsedMs,
      dialMs,
      totalMs,
      reused,
      errors: errors.length,
      firstErrors: errors.slice(0, 3),
    });
  }
  await Promise.allSettled(nodes.map((n) => n.stop()));
}

switch (mode) {
  case "throughput":
    await throughput();
    break;
  case "reserve":
    await reserve();
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
