// A long one-way transfer through a relay between two stock js-libp2p nodes, for Node
// (`node tests/_helpers/count_push_client.mjs …`) and Deno (`deno run -A …`): A reserves on
// the relay and counts what it receives on one stream; B dials A through the relay, sends
// BYTES in 64 KiB writes with backpressure, closes its side and waits for A's count.
// Prints one JSON line: { runtime, bytes, received, ms, error? }.
//
// Flags: --relay MULTIADDR (with /p2p/<id>), --bytes N, --monitor default|keep (keep:
// connectionMonitor.abortConnectionOnPingFailure = false, see docs/LIMITS.md).
import process from "node:process";
import { parseArgs } from "node:util";
import "./node20_polyfills.mjs";

const isNode = typeof Deno === "undefined";

const { circuitRelayTransport } = await import("@libp2p/circuit-relay-v2");
const { identify } = await import("@libp2p/identify");
const { noise } = await import("@libp2p/noise");
const { tcp } = await import("@libp2p/tcp");
const { yamux } = await import("@libp2p/yamux");
const { multiaddr } = await import("@multiformats/multiaddr");
const { createLibp2p } = await import("libp2p");

const PROTOCOL = "/hopd-test/count/1.0.0";
const WRITE_BYTES = 64 * 1024;

const { values: flags } = parseArgs({
  args: isNode ? process.argv.slice(2) : Deno.args,
  options: {
    relay: { type: "string" },
    bytes: { type: "string", default: String(8 * 1024 * 1024) },
    monitor: { type: "string", default: "default" },
  },
});
const runtime = isNode ? `node ${process.version}` : `deno ${Deno.version.deno}`;
const bytes = Number(flags.bytes);

function node(listen) {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionGater: { denyDialMultiaddr: () => false },
    ...(flags.monitor === "keep"
      ? { connectionMonitor: { abortConnectionOnPingFailure: false } }
      : {}),
  });
}

async function circuitAddr(target) {
  const { promise, resolve } = Promise.withResolvers();
  const check = () => {
    const addr = target.getMultiaddrs().find((ma) => ma.toString().includes("/p2p-circuit"));
    if (addr !== undefined) resolve(addr);
  };
  target.addEventListener("self:peer:update", check);
  check();
  try {
    return await promise;
  } finally {
    target.removeEventListener("self:peer:update", check);
  }
}

const target = await node([`${flags.relay}/p2p-circuit`]);
const sender = await node([]);
let received = 0;
const result = { runtime, bytes, received: 0, ms: 0 };
try {
  await target.handle(PROTOCOL, async (stream) => {
    try {
      for await (const chunk of stream) received += chunk.byteLength;
      const count = new Uint8Array(8);
      new DataView(count.buffer).setBigUint64(0, BigInt(received));
      stream.send(count);
      await stream.close();
    } catch (error) {
      result.targetError = String(error);
    }
  }, { runOnLimitedConnection: true });
  const addr = await circuitAddr(target);
  const startedAt = performance.now();
  const stream = await sender.dialProtocol(multiaddr(addr.toString()), PROTOCOL, {
    runOnLimitedConnection: true,
  });
  const payload = new Uint8Array(WRITE_BYTES);
  for (let sent = 0; sent < bytes; sent += WRITE_BYTES) {
    if (!stream.send(payload.subarray(0, Math.min(WRITE_BYTES, bytes - sent)))) {
      await new Promise((resolve) => {
        const done = () => {
          stream.removeEventListener("drain", done);
          stream.removeEventListener("close", done);
          resolve();
        };
        stream.addEventListener("drain", done);
        stream.addEventListener("close", done);
      });
    }
  }
  await stream.close();
  const reply = [];
  for await (const chunk of stream) reply.push(chunk.subarray());
  const count = new Uint8Array(reply.flatMap((c) => [...c]));
  result.received = count.byteLength === 8
    ? Number(new DataView(count.buffer).getBigUint64(0))
    : received;
  result.ms = Math.round(performance.now() - startedAt);
} catch (error) {
  result.received = received;
  result.error = String(error);
} finally {
  await Promise.allSettled([target.stop(), sender.stop()]);
}
console.log(JSON.stringify(result));
process.exit(result.received === bytes && result.error === undefined ? 0 : 1);
