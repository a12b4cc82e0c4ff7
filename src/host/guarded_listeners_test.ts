import assert from "node:assert/strict";
import net from "node:net";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { multiaddr } from "@multiformats/multiaddr";
import { loadConfig } from "../config/mod.ts";
import { type GuardedServerInit, type SocketGuard, socketGuards } from "../sockets/mod.ts";
import type { InboundSocketGuard } from "./guarded_listeners.ts";
import type { Host } from "./mod.ts";
import { loopbackHost, loopbackNode } from "./testing.ts";
import { SYSTEM_CLOCK } from "../clock/mod.ts";

const LISTEN = ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"];

const startHost = (socketGuard: InboundSocketGuard): Promise<Host> =>
  loopbackHost({ node: { listen: LISTEN, announce: [] }, socketGuard });

/** Waits, on the guard's change events, until `check` holds. */
async function until(guard: SocketGuard, check: () => boolean): Promise<void> {
  while (!check()) await guard.changed();
}

function portOf(host: Host, ws: boolean): number {
  const addr = host.libp2p.getMultiaddrs().map(String).find((a) => a.includes("/ws") === ws)!;
  return Number(/\/tcp\/(\d+)/.exec(addr)![1]);
}

/** A stock client (TCP and WebSockets) that dials `addr` and keeps the connection. */
async function dialer(addr: string) {
  const node = await loopbackNode({ transports: [tcp(), webSockets()] });
  await node.dial(multiaddr(addr));
  return node;
}

Deno.test("createHost() puts its TCP and WebSocket listeners behind the socket guard, from accept to an open connection", async () => {
  const config = await loadConfig();
  const guards = socketGuards(config, {
    clock: SYSTEM_CLOCK,
    admitLibp2p: () => undefined,
  });
  const guard = guards.libp2p;
  const host = await startHost(guard);
  const count = (label: string, state: string) => guard.stats().sockets.get(label)?.get(state) ?? 0;
  const silent = net.connect({ host: "127.0.0.1", port: portOf(host, false) });
  const halfOpen = net.connect({ host: "127.0.0.1", port: portOf(host, true) }, () => {
    halfOpen.write("GET / HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n");
  });
  for (const socket of [silent, halfOpen]) socket.on("error", () => {});
  const clients = [];
  try {
    await until(guard, () => count("tcp", "handshake") === 1 && count("ws", "header") === 1);
    const [tcpAddr, wsAddr] = host.libp2p.getMultiaddrs().map(String).sort((a, b) =>
      a.includes("/ws") ? 1 : b.includes("/ws") ? -1 : 0
    );
    clients.push(await dialer(tcpAddr!), await dialer(wsAddr!));
    await until(guard, () => count("tcp", "established") === 1 && count("ws", "established") === 1);
    assert.equal(count("tcp", "handshake"), 1, "the silent socket is still pending");
    assert.equal(count("ws", "header"), 1, "the half-open upgrade request is still pending");
  } finally {
    silent.destroy();
    halfOpen.destroy();
    await Promise.all(clients.map((client) => client.stop()));
    await host.stop();
  }
});

Deno.test("a guarded TCP or WebSocket listener re-opened after a stall keeps its address and accepts again", async () => {
  const attached: { server: net.Server; init: GuardedServerInit }[] = [];
  const recorder: InboundSocketGuard = {
    attach: (server, init) => void attached.push({ server, init }),
    headerDone: () => {},
    established: () => {},
  };
  const host = await startHost(recorder);
  try {
    const listeners = [...attached];
    assert.deepEqual(listeners.map((a) => a.init.label).sort(), ["tcp", "ws"]);
    const before = host.libp2p.getMultiaddrs().map(String).sort();
    // (A listener that listens again says so: attach is called again, as it is idempotent.)
    for (const { init } of listeners) await init.relisten();
    assert.deepEqual(host.libp2p.getMultiaddrs().map(String).sort(), before);
    for (const addr of before) {
      const client = await dialer(addr);
      await client.stop();
    }
  } finally {
    await host.stop();
  }
});
