import assert from "node:assert/strict";
import net from "node:net";
import { FdBudget, type FdProbe, relistenWith, SocketGuard, type SocketGuardInit } from "./mod.ts";
import {
  ACCEPT_PROBE_INTERVAL_MS,
  ACCEPT_PROBE_TIMEOUT_MS,
  SWEEP_INTERVAL_MS,
} from "./constants.ts";
import { ManualClock } from "../clock/mod.ts";

const ROOMY: FdProbe = { free: (max) => max };

interface Harness {
  readonly guard: SocketGuard;
  readonly server: net.Server;
  readonly port: number;
  readonly clock: ManualClock;
  /** Sockets the server's own handler received. */
  readonly handled: net.Socket[];
  /** Resolves with the next socket the handler received that no call returned yet. */
  nextHandled(): Promise<net.Socket>;
  close(): Promise<void>;
}

async function guarded(
  init: Partial<SocketGuardInit> & {
    firstPhase?: "header" | "handshake";
    relisten?: () => Promise<void>;
  } = {},
): Promise<Harness> {
  const clock = new ManualClock(1_000);
  const fds = init.fds ?? new FdBudget({ reserve: 8, probe: ROOMY, clock });
  const guard = new SocketGuard({
    group: "test",
    limits: { maxPerIp: 2, maxPerSubnet: 3, maxTotal: 4 },
    timeouts: { headerMs: 1_000, handshakeMs: 5_000, requestMs: 3_000, idleMs: 60_000 },
    fdKeep: 8,
    clock,
    subnetPrefixV4: 24,
    subnetPrefixV6: 48,
    ...init,
    fds,
  });
  const handled: net.Socket[] = [];
  let taken = 0;
  let waiting: (() => void) | undefined;
  const server = net.createServer((socket) => {
    handled.push(socket);
    socket.on("error", () => {});
    waiting?.();
  });
  guard.attach(server, {
    label: "tcp",
    firstPhase: init.firstPhase ?? "handshake",
    relisten: init.relisten ?? (() => Promise.resolve()),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    guard,
    server,
    port: (server.address() as net.AddressInfo).port,
    clock,
    handled,
    async nextHandled() {
      while (handled.length <= taken) await new Promise<void>((resolve) => (waiting = resolve));
      return handled[taken++]!;
    },
    async close() {
      guard.stop();
      for (const socket of handled) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A client socket from `localAddress`, with promises for its connect and its close. */
function client(port: number, localAddress: string) {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  socket.on("error", () => {});
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, connected, closed };
}

function isOpen(socket: net.Socket): boolean {
  return !socket.destroyed;
}

Deno.test("SocketGuard hands admitted sockets to the server and resets an IP's oldest past its bound", async () => {
  const h = await guarded();
  try {
    const first = client(h.port, "127.0.3.1");
    const firstSeen = await h.nextHandled();
    const second = client(h.port, "127.0.3.1");
    await h.nextHandled();
    const third = client(h.port, "127.0.3.1");
    await h.nextHandled();
    await first.closed;
    assert.ok(firstSeen.destroyed, "the oldest socket of the IP was reset");
    await Promise.all([second.connected, third.connected]);
    assert.equal(h.handled.length, 3);
    assert.equal(h.guard.stats().refusals.get("tcp pending_ip"), 1);
    assert.equal(h.guard.stats().sockets.get("tcp")?.get("handshake"), 2);
    second.socket.destroy();
    third.socket.destroy();
  } finally {
    await h.close();
  }
});

Deno.test("SocketGuard closes a socket at its header deadline, and at its handshake deadline once the header is read", async () => {
  const h = await guarded({ firstPhase: "header" });
  try {
    const silent = client(h.port, "127.0.4.1");
    const silentSeen = await h.nextHandled();
    const upgraded = client(h.port, "127.0.4.2");
    const upgradedSeen = await h.nextHandled();
    h.guard.headerDone(upgradedSeen.remoteAddress, upgradedSeen.remotePort);
    h.clock.advance(999);
    h.guard.tick();
    assert.ok(isOpen(silentSeen));
    h.clock.advance(1);
    h.guard.tick();
    await silent.closed;
    assert.ok(isOpen(upgradedSeen), "past its header phase: the handshake deadline applies");
    h.clock.advance(4_000);
    h.guard.tick();
    await upgraded.closed;
    const timeouts = h.guard.stats().timeouts;
    assert.equal(timeouts.get("tcp header"), 1);
    assert.equal(timeouts.get("tcp handshake"), 1);
  } finally {
    await h.close();
  }
});

Deno.test("SocketGuard refuses a socket its admission check refuses, before the server sees it", async () => {
  const h = await guarded({ admitIp: (ip) => (ip === "127.0.5.66" ? "banned" : undefined) });
  try {
    const refused = client(h.port, "127.0.5.66");
    await refused.closed;
    const admitted = client(h.port, "127.0.5.1");
    const seen = await h.nextHandled();
    assert.equal(seen.remoteAddress, "127.0.5.1");
    assert.equal(h.handled.length, 1);
    assert.equal(h.guard.stats().refusals.get("tcp banned"), 1);
    admitted.socket.destroy();
  } finally {
    await h.close();
  }
});

Deno.test("SocketGuard at the descriptor reserve sheds the most-represented subnet's oldest, refuses when none is left, and /ready says so", async () => {
  let free = 11; // three sockets fit above a reserve of 8
  const clock = new ManualClock(0);
  const fds = new FdBudget({ reserve: 8, probe: { free: (max) => Math.min(max, free) }, clock });
  const h = await guarded({ fds, limits: { maxPerIp: 10, maxPerSubnet: 10, maxTotal: 10 } });
  try {
    const attackers = [client(h.port, "127.0.6.1"), client(h.port, "127.0.6.2")];
    await h.nextHandled();
    await h.nextHandled();
    const other = client(h.port, "127.0.7.1");
    await h.nextHandled();
    free = 0; // what was probed is used up; nothing else frees a descriptor
    const newcomer = client(h.port, "127.0.8.1");
    const newcomerSeen = await h.nextHandled();
    await attackers[0]!.closed;
    assert.equal(h.guard.stats().refusals.get("tcp fd_reserve"), 1);
    assert.deepEqual(h.guard.readinessReasons(), []);
    assert.ok(isOpen(newcomerSeen));
    // Only established connections left: nothing can be shed.
    for (const socket of h.handled.filter(isOpen)) {
      h.guard.established(socket.remoteAddress, socket.remotePort);
    }
    const refused = client(h.port, "127.0.9.1");
    await refused.closed;
    assert.equal(h.guard.stats().refusals.get("tcp fd_reserve"), 2);
    assert.match(
      h.guard.readinessReasons().join(),
      /one more would leave fewer than 8 file descriptors free/,
    );
    for (const c of [attackers[1]!, other, newcomer]) c.socket.destroy();
  } finally {
    await h.close();
  }
});

Deno.test("SocketGuard closes an established connection that read nothing for idle_timeout and keeps one that did", async () => {
  const h = await guarded({
    timeouts: { headerMs: 1_000, handshakeMs: 5_000, requestMs: 0, idleMs: 40_000 },
  });
  try {
    const quiet = client(h.port, "127.0.10.1");
    const quietSeen = await h.nextHandled();
    const talker = client(h.port, "127.0.10.2");
    const talkerSeen = await h.nextHandled();
    for (const socket of [quietSeen, talkerSeen]) {
      socket.on("data", () => {});
      h.guard.established(socket.remoteAddress, socket.remotePort);
    }
    assert.equal(h.guard.stats().sockets.get("tcp")?.get("established"), 2);
    for (let elapsedMs = 0; elapsedMs < 40_000; elapsedMs += 10_000) {
      const echoed = new Promise((resolve) => talkerSeen.once("data", resolve));
      talker.socket.write("ping");
      await echoed;
      h.clock.advance(10_000);
      h.guard.tick();
    }
    await quiet.closed;
    assert.ok(isOpen(talkerSeen));
    assert.equal(h.guard.stats().timeouts.get("tcp idle"), 1);
    talker.socket.destroy();
  } finally {
    await h.close();
  }
});

Deno.test("SocketGuard re-opens a listener whose connections are not accepted, and /ready says so until it accepts", async () => {
  // Another server takes the probe's connection, so the guarded server never accepts it: the
  // same as a node:net server whose accept loop stopped at EMFILE, as the kernel still
  // completes handshakes into its backlog.
  let deafSaw: (() => void) | undefined;
  const deaf = net.createServer((socket) => {
    socket.destroy();
    deafSaw?.();
  });
  await new Promise<void>((resolve) => deaf.listen(0, "127.0.0.1", resolve));
  let relistens = 0;
  let restore = () => {};
  const h = await guarded({
    relisten: () => {
      relistens++;
      restore();
      return Promise.resolve();
    },
  });
  try {
    const realAddress = h.server.address.bind(h.server);
    h.server.address = () => deaf.address();
    restore = () => (h.server.address = realAddress);
    h.clock.advance(ACCEPT_PROBE_INTERVAL_MS);
    const probeArrived = new Promise<void>((resolve) => (deafSaw = resolve));
    h.guard.tick(); // probes: the connection lands on the deaf server
    await probeArrived;
    h.clock.advance(ACCEPT_PROBE_TIMEOUT_MS);
    h.guard.tick(); // overdue, not yet a stall
    assert.equal(h.guard.stats().stalls.get("tcp"), undefined);
    assert.equal(relistens, 0);
    h.clock.advance(SWEEP_INTERVAL_MS);
    h.guard.tick(); // still not accepted a sweep later: stalled
    assert.equal(h.guard.stats().stalls.get("tcp"), 1);
    assert.equal(h.guard.stats().accepting.get("tcp"), false);
    assert.match(
      h.guard.readinessReasons().join(),
      /tcp listener 127\.0\.0\.1:\d+ is not accepting/,
    );
    assert.equal(relistens, 1);
    // Re-opened (once the relisten promise settled): the next tick probes at once, and the
    // real server accepts.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const accepted = new Promise<void>((resolve) => h.server.once("connection", () => resolve()));
    h.guard.tick();
    await accepted;
    assert.equal(h.guard.stats().accepting.get("tcp"), true);
    assert.deepEqual(h.guard.readinessReasons(), []);
  } finally {
    await h.close();
    await new Promise((resolve) => deaf.close(resolve));
  }
});

Deno.test("SocketGuard takes a probe overdue at one tick but accepted before the next as accepted, not as a stall", async () => {
  // A starved host: the event loop wakes after the probe's deadline and runs the sweep before
  // the accept that waited beside it. Here the overdue tick runs before the loop has turned.
  let relistens = 0;
  const h = await guarded({
    relisten: () => {
      relistens++;
      return Promise.resolve();
    },
  });
  try {
    h.clock.advance(ACCEPT_PROBE_INTERVAL_MS);
    const accepted = new Promise((resolve) => h.server.once("connection", resolve));
    h.guard.tick(); // probes
    h.clock.advance(ACCEPT_PROBE_TIMEOUT_MS);
    h.guard.tick(); // overdue: the accept has not run yet
    assert.equal(h.guard.stats().stalls.get("tcp"), undefined);
    await accepted;
    h.clock.advance(SWEEP_INTERVAL_MS);
    h.guard.tick();
    assert.equal(h.guard.stats().stalls.get("tcp"), undefined);
    assert.equal(h.guard.stats().accepting.get("tcp"), true);
    assert.equal(relistens, 0);
    assert.deepEqual(h.guard.readinessReasons(), []);
  } finally {
    await h.close();
  }
});

Deno.test("relistenWith() opens a server first opened on port 0 again on the port it got", async () => {
  const server = net.createServer((socket) => socket.end());
  const options = { host: "127.0.0.1", port: 0 };
  await new Promise<void>((resolve) => server.listen(options, resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    await relistenWith(server, options)();
    assert.equal((server.address() as net.AddressInfo).port, port);
    const socket = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.destroy();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

Deno.test("SocketGuard counts a probe its own admission check refused (draining) as accepted, not as a stall", async () => {
  const h = await guarded({ admitIp: () => "draining" });
  try {
    const seen = new Promise((resolve) => h.server.once("connection", resolve));
    h.clock.advance(ACCEPT_PROBE_INTERVAL_MS);
    h.guard.tick(); // probes; the gate refuses the probe's connection like any other
    // Accepted (then refused) is what counts, not whether the reset has reached the probe.
    await seen;
    h.clock.advance(ACCEPT_PROBE_TIMEOUT_MS);
    h.guard.tick();
    assert.equal(h.guard.stats().stalls.get("tcp"), undefined);
    assert.deepEqual(h.guard.readinessReasons(), []);
  } finally {
    await h.close();
  }
});
