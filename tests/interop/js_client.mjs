// hopd's stock js-libp2p relay client for the interop matrix, one file for Node
// (`node tests/interop/js_client.mjs …`) and Deno (`deno run -A tests/interop/js_client.mjs …`).
// It reserves a slot on a circuit relay v2 (--listen) or dials a reserved peer through it
// (--dial), echoes bytes over the circuit (or over the direct connection DCUtR opened, with
// --holepunch), and prints one JSON line in the schema every interop client shares
// (docs/INTEROP.md). Only js-libp2p's public API: circuit relay v2 transport, identify, ping,
// dcutr, noise, yamux, TCP, WebSockets.
//
// js-libp2p 3 keeps no limit from the RESERVE answer (only a connection's limits), so a
// listener's reservation limit is reported as null.
import process from "node:process";
import { parseArgs } from "node:util";
import "../_helpers/node20_polyfills.mjs";

const isNode = typeof Deno === "undefined";

const { circuitRelayTransport } = await import("@libp2p/circuit-relay-v2");
const { dcutr } = await import("@libp2p/dcutr");
const { identify } = await import("@libp2p/identify");
const { noise } = await import("@libp2p/noise");
const { ping } = await import("@libp2p/ping");
const { tcp } = await import("@libp2p/tcp");
const { webSockets } = await import("@libp2p/websockets");
const { yamux } = await import("@libp2p/yamux");
const { peerIdFromString } = await import("@libp2p/peer-id");
const { multiaddr } = await import("@multiformats/multiaddr");
const { createLibp2p } = await import("libp2p");
const { version: libp2pVersion } = await import("libp2p/version");

const ECHO = "/hopd-test/echo/1.0.0";
const CHUNK_BYTES = 16 * 1024;
const USAGE = "usage: js_client.mjs --relay MULTIADDR (--listen | --dial PEERID) [--echo BYTES] " +
  "[--holepunch [--holepunch-wait 10s]] [--wait-close] [--timeout 60s] [--bind ADDRS]";

const { values: flags } = parseArgs({
  args: isNode ? process.argv.slice(2) : Deno.args,
  options: {
    relay: { type: "string" },
    listen: { type: "boolean", default: false },
    dial: { type: "string" },
    echo: { type: "string", default: "0" },
    holepunch: { type: "boolean", default: false },
    "holepunch-wait": { type: "string", default: "10s" },
    "wait-close": { type: "boolean", default: false },
    timeout: { type: "string", default: "60s" },
    bind: { type: "string" },
  },
});
if (flags.relay === undefined || flags.listen === (flags.dial !== undefined)) {
  console.error(USAGE);
  process.exit(2);
}

const started = performance.now();
const timeoutMs = Number.parseFloat(flags.timeout) * 1000;
const deadline = started + timeoutMs;
const since = (t) => Math.round((performance.now() - t) * 1000) / 1000;
const isRelayed = (ma) => ma.toString().includes("/p2p-circuit");
const limitOf = (limits) =>
  limits == null ? null : {
    durationS: limits.seconds ?? null,
    dataBytes: limits.bytes == null ? null : Number(limits.bytes),
  };

const result = {
  schema: "hopd-interop/1",
  impl: isNode ? "node" : "deno",
  version: `js-libp2p ${libp2pVersion} (${
    isNode ? `node ${process.version}` : `deno ${Deno.version.deno}`
  })`,
  role: flags.listen ? "listen" : "dial",
  peerId: "",
  relay: flags.relay,
  ok: false,
  errors: [],
  relayPingMs: null,
  reservation: null,
  connect: null,
  echo: null,
  holepunch: null,
  closed: null,
  observedAddrs: [],
  listenAddrs: [],
  totalMs: 0,
};

// Every connection seen, with when it opened and closed; `changed` wakes the waiters.
const conns = new Map();
let changed = Promise.withResolvers();
const bump = () => {
  changed.resolve();
  changed = Promise.withResolvers();
};
let stopRequested = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
  if (isNode) process.on(signal, () => (stopRequested = true, bump()));
  else Deno.addSignalListener(signal, () => (stopRequested = true, bump()));
}

/** Waits until `cond()` holds, `untilMs` (performance.now() time) passes or a stop signal. */
async function waitFor(cond, untilMs = deadline) {
  while (!cond()) {
    const left = Math.min(untilMs, deadline) - performance.now();
    if (stopRequested || left <= 0) return cond();
    let timer;
    await Promise.race([
      changed.promise,
      new Promise((resolve) => (timer = setTimeout(resolve, left))),
    ]);
    clearTimeout(timer);
  }
  return true;
}

const firstRelayed = () => [...conns.values()].find((c) => c.relayed);
function firstDirect() {
  const relayed = firstRelayed();
  if (relayed === undefined) return undefined;
  return [...conns.values()].find((c) => !c.relayed && c.peer === relayed.peer);
}

const relayAddr = multiaddr(flags.relay);
const relayPeer = flags.relay.split("/p2p/").at(-1);
const binds = flags.bind !== undefined
  ? flags.bind.split(",")
  : flags.holepunch
  ? ["/ip4/0.0.0.0/tcp/0"]
  : [];

const node = await createLibp2p({
  // Started below, once the event listeners are in place (the listener's reservation dials
  // the relay, and identifies it, at start).
  start: false,
  addresses: { listen: [...binds, ...(flags.listen ? [`${flags.relay}/p2p-circuit`] : [])] },
  transports: [tcp(), webSockets(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    ...(flags.holepunch ? { dcutr: dcutr() } : {}),
  },
  connectionGater: { denyDialMultiaddr: () => false },
});
result.peerId = node.peerId.toString();
node.addEventListener("connection:open", ({ detail: conn }) => {
  conns.set(conn.id, {
    conn,
    peer: conn.remotePeer.toString(),
    relayed: isRelayed(conn.remoteAddr),
    // js-libp2p's limits count down as bytes pass and time goes: read them at once.
    limit: limitOf(conn.limits),
    opened: performance.now(),
    closed: undefined,
  });
  bump();
});
node.addEventListener("connection:close", ({ detail: conn }) => {
  const seen = conns.get(conn.id);
  if (seen !== undefined) seen.closed = performance.now();
  bump();
});
node.addEventListener("peer:identify", ({ detail }) => {
  if (detail.peerId.toString() === relayPeer && detail.observedAddr !== undefined) {
    result.observedAddrs.push(detail.observedAddr.toString());
  }
});

/** Sends `size` random bytes through `stream` while reading the echo back. */
async function echoThrough(stream, size, via) {
  const t0 = performance.now();
  const res = { bytes: size, sent: 0, received: 0, intact: false, ms: 0, via };
  const payload = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65_536) {
    crypto.getRandomValues(payload.subarray(offset, Math.min(size, offset + 65_536)));
  }
  const received = new Uint8Array(size);
  const reader = (async () => {
    for await (const chunk of stream) {
      const bytes = chunk.subarray();
      if (res.received + bytes.byteLength > size) throw new Error("echo returned too many bytes");
      received.set(bytes, res.received);
      res.received += bytes.byteLength;
      if (res.received === size) return;
    }
    throw new Error(`stream ended after ${res.received} bytes`);
  })();
  reader.catch(() => {});
  try {
    for (let offset = 0; offset < size; offset += CHUNK_BYTES) {
      const chunk = payload.subarray(offset, Math.min(size, offset + CHUNK_BYTES));
      if (!stream.send(chunk)) await stream.onDrain();
      res.sent += chunk.byteLength;
    }
    await reader;
    await stream.close();
  } catch (error) {
    res.error = `after ${res.sent} bytes sent, ${res.received} back: ${error?.message ?? error}`;
    stream.abort?.(error instanceof Error ? error : new Error(String(error)));
  }
  res.ms = since(t0);
  res.intact = res.received === size && received.every((b, i) => b === payload[i]);
  if (res.error === undefined && !res.intact) res.error = "echoed bytes differ from sent bytes";
  return res;
}

async function listen() {
  let served = false;
  await node.handle(ECHO, async (stream, connection) => {
    const t0 = performance.now();
    const res = {
      bytes: 0,
      sent: 0,
      received: 0,
      intact: false,
      ms: 0,
      via: isRelayed(connection.remoteAddr) ? "relayed" : "direct",
    };
    try {
      for await (const chunk of stream) {
        res.received += chunk.byteLength;
        if (!stream.send(chunk)) await stream.onDrain();
        res.sent += chunk.byteLength;
      }
      res.intact = res.sent === res.received;
      // Everything is echoed once the dialer's end is read. The dialer then hangs up, and hopd
      // resets a circuit whose end went away; a close that comes after that (a slow listener
      // on a loaded host) finds the stream closing. That is the dialer's goodbye, not a failed
      // echo: the dialer checks the bytes it got back.
      await stream.close().catch((error) => (res.closeError = String(error?.message ?? error)));
    } catch (error) {
      res.error = String(error?.message ?? error);
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    }
    res.bytes = res.received;
    res.ms = since(t0);
    result.echo = res;
    if (res.error !== undefined) result.errors.push(`echo: ${res.error}`);
    served = true;
    bump();
  }, { runOnLimitedConnection: true });
  const t0 = performance.now();
  node.addEventListener("self:peer:update", bump);
  const circuitAddrs = () => node.getMultiaddrs().filter(isRelayed).map(String);
  if (!await waitFor(() => circuitAddrs().length > 0)) {
    result.errors.push("reserve: no /p2p-circuit address (no reservation)");
    return;
  }
  result.reservation = { ms: since(t0), expiresAt: null, limit: null, addrs: circuitAddrs() };
  const readyAt = performance.now();
  console.error(JSON.stringify({ event: "ready", peerId: result.peerId }));
  if (!await waitFor(() => served)) {
    if (!stopRequested) result.errors.push(`timeout: no echo stream within ${flags.timeout}`);
  } else {
    if (flags["wait-close"]) await waitFor(() => firstRelayed()?.closed !== undefined);
    // Exiting at once would close our connection to the relay under the echo's last bytes
    // (the relay resets a circuit whose end goes away): wait for the dialer to hang up.
    const peer = firstRelayed()?.peer;
    await waitFor(
      () => [...conns.values()].every((c) => c.peer !== peer || c.closed !== undefined),
      performance.now() + 10_000,
    );
  }
  const relayed = firstRelayed();
  if (relayed !== undefined) {
    result.connect = {
      ms: Math.round((relayed.opened - readyAt) * 1000) / 1000,
      relayed: true,
      remoteAddr: relayed.conn.remoteAddr.toString(),
      limit: relayed.limit,
    };
  }
}

async function dial() {
  const target = peerIdFromString(flags.dial);
  const circuit = multiaddr(`${flags.relay}/p2p-circuit/p2p/${flags.dial}`);
  const t0 = performance.now();
  let conn;
  try {
    conn = await node.dial(circuit, {
      signal: AbortSignal.timeout(Math.max(1, Math.floor(deadline - t0))),
    });
  } catch (error) {
    result.errors.push(`connect through relay: ${error?.message ?? error}`);
    return;
  }
  result.connect = {
    ms: since(t0),
    relayed: isRelayed(conn.remoteAddr),
    remoteAddr: conn.remoteAddr.toString(),
    limit: conns.get(conn.id)?.limit ?? limitOf(conn.limits),
  };
  if (flags.holepunch) {
    const waitMs = Number.parseFloat(flags["holepunch-wait"]) * 1000;
    await waitFor(() => firstDirect() !== undefined, performance.now() + waitMs);
  }
  const echoBytes = Number(flags.echo);
  if (echoBytes > 0) {
    // The best open connection to the target: the direct one when DCUtR opened one.
    const best = firstDirect()?.closed === undefined && firstDirect() !== undefined
      ? firstDirect().conn
      : conn;
    try {
      const stream = await best.newStream(ECHO, { runOnLimitedConnection: true });
      result.echo = await echoThrough(
        stream,
        echoBytes,
        isRelayed(best.remoteAddr) ? "relayed" : "direct",
      );
    } catch (error) {
      result.echo = {
        bytes: echoBytes,
        sent: 0,
        received: 0,
        intact: false,
        ms: 0,
        via: isRelayed(best.remoteAddr) ? "relayed" : "direct",
        error: `open stream: ${error?.message ?? error}`,
      };
    }
    if (result.echo.error !== undefined) result.errors.push(`echo: ${result.echo.error}`);
  }
  if (flags["wait-close"]) {
    await waitFor(() => firstRelayed()?.closed !== undefined);
    if (firstRelayed()?.closed === undefined) {
      result.errors.push(`relayed connection still open after ${flags.timeout}`);
    }
  }
  void target;
}

try {
  await node.start();
  try {
    result.relayPingMs = await node.services.ping.ping(relayAddr, {
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    result.errors.push(`ping relay: ${error?.message ?? error}`);
  }
  if (flags.listen) await listen();
  else await dial();
} catch (error) {
  result.errors.push(String(error?.stack ?? error));
}
const relayed = firstRelayed();
if (relayed?.closed !== undefined) {
  result.closed = { afterMs: Math.round((relayed.closed - relayed.opened) * 1000) / 1000 };
}
if (flags.holepunch) {
  const direct = firstDirect();
  result.holepunch = {
    direct: direct !== undefined,
    directAfterMs: direct !== undefined && relayed !== undefined
      ? Math.round((direct.opened - relayed.opened) * 1000) / 1000
      : null,
    ...(direct !== undefined ? { directAddr: direct.conn.remoteAddr.toString() } : {}),
    events: [],
  };
}
result.listenAddrs = node.getMultiaddrs().map(String);
result.totalMs = since(started);
result.ok = result.errors.length === 0;
console.log(JSON.stringify(result));
await Promise.race([node.stop(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
process.exit(result.ok ? 0 : 1);
