// A stock js-libp2p relay client pair (none of hopd's code): A reserves a slot on the relay
// and serves an echo protocol; B dials A through the relay and echoes a payload.
// Plain JavaScript so the same file runs under Deno (imported by tests) and Node (via
// node_echo.mjs), covering two runtimes with one client.
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { identify } from "@libp2p/identify";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

export const ECHO_PROTOCOL = "/hopd-test/echo/1.0.0";

/** Creates a stock client node that can use circuit relay v2. */
export function createClient(listen = []) {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionGater: { denyDialMultiaddr: () => false },
  });
}

/**
 * Waits until `node` announces a /p2p-circuit address, i.e. its reservation is granted: on
 * its `self:peer:update` event (libp2p's, when its own addresses change), not by polling;
 * rejects when `timeoutMs` pass first (a bound on a failure, not a wait).
 */
export function waitForCircuitAddr(node, timeoutMs = 10_000) {
  const circuitAddr = () =>
    node.getMultiaddrs().find((ma) => ma.toString().includes("/p2p-circuit"));
  const now = circuitAddr();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const onUpdate = () => {
      const addr = circuitAddr();
      if (addr === undefined) return;
      finish();
      resolve(addr);
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error("no reservation: no /p2p-circuit address"));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      node.removeEventListener("self:peer:update", onUpdate);
    };
    node.addEventListener("self:peer:update", onUpdate);
  });
}

/** Serves the echo protocol on `node`: every byte read is written back. */
export async function serveEcho(node) {
  await node.handle(ECHO_PROTOCOL, async (stream) => {
    try {
      for await (const chunk of stream) {
        if (!stream.send(chunk)) await stream.onDrain();
      }
      await stream.close();
    } catch (error) {
      stream.abort(error);
    }
  }, { runOnLimitedConnection: true });
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends `size` random bytes through `stream` and reads the echo back.
 * Returns { sent, received, intact }.
 */
export async function echoThrough(stream, size) {
  const payload = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65_536) {
    crypto.getRandomValues(payload.subarray(offset, Math.min(size, offset + 65_536)));
  }
  const received = new Uint8Array(size);
  let receivedBytes = 0;
  const reader = (async () => {
    for await (const chunk of stream) {
      const bytes = chunk.subarray();
      if (receivedBytes + bytes.byteLength > size) throw new Error("echo returned too many bytes");
      received.set(bytes, receivedBytes);
      receivedBytes += bytes.byteLength;
      if (receivedBytes === size) break;
    }
  })();
  const chunkBytes = 16_384;
  for (let offset = 0; offset < size; offset += chunkBytes) {
    if (!stream.send(payload.subarray(offset, Math.min(size, offset + chunkBytes)))) {
      await stream.onDrain();
    }
  }
  await reader;
  await stream.close().catch(() => {});
  const intact = receivedBytes === size &&
    (await sha256Hex(payload)) === (await sha256Hex(received));
  return { sent: size, received: receivedBytes, intact };
}

/**
 * The whole scenario: A reserves on `relayAddr`, B dials A through it, `size` bytes echo.
 * Returns a JSON-able result; always stops both nodes.
 */
export async function relayEcho(relayAddr, size) {
  const a = await createClient([`${relayAddr}/p2p-circuit`]);
  const b = await createClient();
  try {
    await serveEcho(a);
    const circuitAddr = await waitForCircuitAddr(a);
    const startedAt = performance.now();
    const stream = await b.dialProtocol(multiaddr(circuitAddr.toString()), ECHO_PROTOCOL, {
      runOnLimitedConnection: true,
    });
    const result = await echoThrough(stream, size);
    return {
      ...result,
      circuitAddr: circuitAddr.toString(),
      elapsedMs: Math.round(performance.now() - startedAt),
    };
  } finally {
    await Promise.allSettled([a.stop(), b.stop()]);
  }
}
