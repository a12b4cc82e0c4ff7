import assert from "node:assert/strict";
import net from "node:net";
import { ManualClock } from "../clock/mod.ts";
import { defaultConfig } from "../config/mod.ts";
import { relistenWith, type SocketGuard, socketGuards } from "./mod.ts";

/** A server on 127.0.0.1 port 0 behind `guard`, holding what it is handed. */
async function guardedServer(guard: SocketGuard, label: string) {
  const options = { host: "127.0.0.1", port: 0 };
  const handed: net.Socket[] = [];
  const server = net.createServer((socket) => void handed.push(socket));
  server.listen(options);
  await new Promise((resolve) => server.once("listening", resolve));
  guard.attach(server, {
    label,
    firstPhase: label === "ops" ? "header" : "handshake",
    relisten: relistenWith(server, options),
  });
  return { server, handed, port: (server.address() as net.AddressInfo).port };
}

/**
 * Connects from `localAddress` and waits on the guard's change events until it admitted or
 * refused the socket: true when admitted.
 */
async function connect(
  guard: SocketGuard,
  port: number,
  localAddress: string,
  clients: net.Socket[],
): Promise<boolean> {
  const held = guard.held;
  const refused = [...guard.stats().refusals.values()].reduce((sum, n) => sum + n, 0);
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  socket.on("error", () => {});
  clients.push(socket);
  for (;;) {
    await guard.changed();
    if (guard.held > held) return true;
    const now = [...guard.stats().refusals.values()].reduce((sum, n) => sum + n, 0);
    if (now > refused) return false;
  }
}

Deno.test("socketGuards() draws the ops server's connections from the descriptor reserve: up to three quarters of it, ops connections leave the libp2p listeners their room", async () => {
  const config = defaultConfig();
  const clock = new ManualClock(0);
  // 8 descriptors kept free; 20 free when probed: the libp2p listeners have room for 12.
  const guards = socketGuards({ ...config, connections: { ...config.connections, fdReserve: 8 } }, {
    clock,
    admitLibp2p: () => undefined,
    fdProbe: { free: (max) => Math.min(max, 20) },
  });
  const ops = await guardedServer(guards.ops, "ops");
  const tcp = await guardedServer(guards.libp2p, "tcp");
  const clients: net.Socket[] = [];
  try {
    // The ops server may hold 6 of the 8 (it keeps 2 free): its share.
    for (let i = 1; i <= 6; i++) {
      assert.equal(await connect(guards.ops, ops.port, `127.0.1.${i}`, clients), true);
    }
    assert.equal(guards.fds.free(), 14);
    // Below the reserve now, yet the libp2p listeners still have their 12. Each is
    // established at once, so no pending one can be shed to make room: a socket that does not
    // fit is refused.
    for (let i = 1; i <= 12; i++) {
      const admitted = await connect(guards.libp2p, tcp.port, `127.0.2.${i}`, clients);
      assert.equal(admitted, true, `libp2p socket ${i} of 12 refused`);
      const socket = tcp.handed.at(-1)!;
      guards.libp2p.established(socket.remoteAddress, socket.remotePort);
    }
    assert.deepEqual(guards.libp2p.readinessReasons(), []);
    // Their own room used up: the next libp2p socket is refused, and /ready says so.
    assert.equal(await connect(guards.libp2p, tcp.port, "127.0.3.1", clients), false);
    assert.equal(guards.libp2p.stats().refusals.get("tcp fd_reserve"), 1);
    assert.match(
      guards.libp2p.readinessReasons().join(),
      /one more would leave fewer than 2 file descriptors free/,
    );
  } finally {
    for (const socket of [...clients, ...ops.handed, ...tcp.handed]) socket.destroy();
    await Promise.all(
      [ops.server, tcp.server].map((server) => new Promise((resolve) => server.close(resolve))),
    );
  }
});
