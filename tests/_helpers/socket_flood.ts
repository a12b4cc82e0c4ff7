// Hostile sockets for the socket-exhaustion tests: raw TCP connections opened from many
// loopback source addresses (127.x.y.z all reach lo on Linux, so one machine can play many
// IPs and subnets) that never speak, or that send a request head and never finish it.

import net from "node:net";

/** How a flood is opened. */
export interface SocketFloodInit {
  readonly host: string;
  readonly port: number;
  /** Local addresses to connect from, used round-robin (e.g. "127.10.0.1"). */
  readonly sources: readonly string[];
  /** How many sockets to open in all. */
  readonly count: number;
  /** Opening rate; absent = as fast as connects complete. */
  readonly perSecond?: number;
  /** Bytes written once connected (a request head left unfinished); absent = silent. */
  readonly payload?: string;
  /** Most connects in flight at once. @default 64 */
  readonly concurrency?: number;
}

/** A running flood. */
export interface SocketFlood {
  /** Connects that completed. */
  readonly opened: number;
  /** Connects that failed (refused, reset, timed out). */
  readonly failed: number;
  /** Sockets the server closed or reset after they connected. */
  readonly closedByServer: number;
  /** Sockets open now. */
  readonly open: number;
  /** Resolves once every socket was attempted (or the flood was halted or stopped). */
  readonly started: Promise<void>;
  /**
   * Opens no more sockets and resolves once the connects in flight settled; the open sockets
   * stay open (for the server to close).
   */
  halt(): Promise<void>;
  /** Closes every socket the flood holds. */
  stop(): Promise<void>;
}

/** `count` source addresses: `perSubnet` IPs in each of `subnets` /24s under 127.<base>.0.0/16. */
export function loopbackSources(base: number, subnets: number, perSubnet: number): string[] {
  const sources: string[] = [];
  for (let s = 0; s < subnets; s++) {
    for (let i = 1; i <= perSubnet; i++) sources.push(`127.${base}.${s}.${i}`);
  }
  return sources;
}

/**
 * Opens a flood of sockets that never complete a handshake.
 *
 * @param init Target, sources, count and rate.
 * @returns The flood; call `stop()` in a `finally`.
 */
export function socketFlood(init: SocketFloodInit): SocketFlood {
  const sockets = new Set<net.Socket>();
  let opened = 0;
  let failed = 0;
  let closedByServer = 0;
  let stopping = false;
  let halted = false;
  const concurrency = init.concurrency ?? 64;
  const intervalMs = init.perSecond === undefined ? 0 : 1000 / init.perSecond;

  function connectOne(index: number): Promise<void> {
    return new Promise((resolve) => {
      const socket = net.connect({
        host: init.host,
        port: init.port,
        localAddress: init.sources[index % init.sources.length],
      });
      let connected = false;
      const timer = setTimeout(() => socket.destroy(new Error("connect timeout")), 5_000);
      socket.on("connect", () => {
        clearTimeout(timer);
        connected = true;
        opened++;
        sockets.add(socket);
        if (init.payload !== undefined) socket.write(init.payload);
        resolve();
      });
      socket.on("data", () => {});
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(timer);
        sockets.delete(socket);
        if (!connected) {
          failed++;
          resolve();
        } else if (!stopping) {
          closedByServer++;
        }
      });
    });
  }

  const started = (async () => {
    const inFlight = new Set<Promise<void>>();
    const startedAt = performance.now();
    for (let i = 0; i < init.count && !stopping && !halted; i++) {
      if (intervalMs > 0) {
        const dueMs = startedAt + i * intervalMs - performance.now();
        // Pacing of the attack (its rate is part of what it is), not a wait.
        if (dueMs > 0) await new Promise((resolve) => setTimeout(resolve, dueMs));
      }
      const attempt = connectOne(i).finally(() => inFlight.delete(attempt));
      inFlight.add(attempt);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();

  return {
    get opened() {
      return opened;
    },
    get failed() {
      return failed;
    },
    get closedByServer() {
      return closedByServer;
    },
    get open() {
      return sockets.size;
    },
    started,
    async halt() {
      halted = true;
      await started;
    },
    async stop() {
      stopping = true;
      await started;
      const closing = [...sockets].map((socket) =>
        new Promise<void>((resolve) => {
          socket.once("close", () => resolve());
          socket.destroy();
        })
      );
      await Promise.all(closing);
    },
  };
}
