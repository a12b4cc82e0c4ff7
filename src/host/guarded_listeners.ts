/**
 * Puts libp2p's TCP and WebSocket listeners behind hopd's socket guard (src/sockets).
 *
 * @libp2p/tcp 11.0.28 and @libp2p/websockets 10.1.21 accept with a node:net server of their
 * own (`listener.server`) and hand every socket straight to the upgrader (TCP) or to an HTTP
 * server that waits for an upgrade request with no deadline (WebSockets). Nothing bounds the
 * sockets still in that phase per source, nothing keeps file descriptors free, and under
 * Deno 2.9.6 the accept loop of a node:net server stops for good after one EMFILE. The
 * transport's `createListener` is wrapped so each listener's server is guarded once it
 * listens: the guard runs before the listener's own `connection` handler. For WebSockets
 * the listener's `onUpgrade` is wrapped too, so the guard learns when the upgrade request
 * (the header phase) is complete. Re-opening a stalled TCP listener uses its own
 * pause()/resume(); a WebSocket listener's server is closed and listens again.
 *
 * Shapes are checked first; a listener of another shape is left alone and the host warns once
 * at start (patch_warnings.ts; the host test fails). Version guard: @libp2p/tcp 11.0.28 and
 * @libp2p/websockets 10.1.21 (versions.ts). Upstream: libp2p could take an accept gate and per-source pending
 * bounds in its transports (js-libp2p's `maxIncomingPendingConnections` is one global bound),
 * and Deno's uv_compat `poll_tcp_handle` should keep polling a listener after an accept
 * error instead of dropping the error.
 *
 * @module
 */

import http from "node:http";
import net from "node:net";
import type { Listener, Transport } from "@libp2p/interface";
import { PatchWarnings } from "./patch_warnings.ts";
import { relistenWith } from "../sockets/mod.ts";
import type { GuardedServerInit } from "../sockets/mod.ts";

/** The part of the socket guard the host drives. */
export interface InboundSocketGuard {
  /** Puts a listener's server behind the guard: accepted sockets are admitted, shed or refused. */
  attach(server: net.Server, init: GuardedServerInit): void;
  /** The WebSocket upgrade of the socket from `ip`:`port` arrived (its header deadline ends). */
  headerDone(ip: string | undefined, port: number | undefined): void;
  /** The socket from `ip`:`port` became an open libp2p connection. */
  established(ip: string | undefined, port: number | undefined): void;
}

/** The part of @libp2p/tcp's TCPListener this uses. */
interface TcpListenerShape {
  server: net.Server;
  /** `netConfig` is what `resume()` listens with. */
  status: { netConfig?: { port?: number } };
  pause(permanent?: boolean): void;
  resume(): Promise<void>;
}

/** The part of @libp2p/websockets' WebSocketListener this uses. */
interface WebSocketListenerShape {
  server: net.Server;
  http?: http.Server;
  https?: http.Server;
  onUpgrade(request: http.IncomingMessage, socket: unknown, head: unknown): void;
}

/**
 * Wraps a transport factory so that every listener it creates is guarded by `guard`.
 *
 * @param factory A TCP or WebSocket transport factory.
 * @param guard The socket guard.
 * @param warnings Told when a listener is of an unknown shape (it is left unguarded).
 * @returns The same factory, guarded.
 */
export function guardedTransport<C>(
  factory: (components: C) => Transport,
  guard: InboundSocketGuard,
  warnings: PatchWarnings = new PatchWarnings(),
): (components: C) => Transport {
  return (components) => {
    const transport = factory(components);
    const createListener = transport.createListener.bind(transport);
    transport.createListener = (options) => {
      const listener = createListener(options);
      if (!guardListener(listener, guard)) warnings.notApplied("guarded_listeners");
      return listener;
    };
    return transport;
  };
}

/**
 * Guards one libp2p listener from the moment it listens.
 *
 * @param listener A listener from @libp2p/tcp or @libp2p/websockets.
 * @param guard The socket guard.
 * @returns False when the listener has an unknown shape (it is left alone).
 */
export function guardListener(listener: Listener, guard: InboundSocketGuard): boolean {
  if (isWebSocketListener(listener)) {
    const onUpgrade = listener.onUpgrade;
    // Bound per HTTP(S) server as each is created, including after a certificate renewal.
    listener.onUpgrade = function (request, socket, head) {
      guard.headerDone(request.socket.remoteAddress, request.socket.remotePort);
      onUpgrade.call(this, request, socket, head);
    };
    listener.addEventListener("listening", () => {
      const address = listener.server.address();
      if (address === null || typeof address === "string") return;
      guard.attach(listener.server, {
        label: listener.https === undefined ? "ws" : "wss",
        firstPhase: "header",
        relisten: relistenWith(listener.server, {
          host: address.address,
          port: address.port,
          ipv6Only: address.family === "IPv6",
        }),
      });
    });
    return true;
  }
  if (isTcpListener(listener)) {
    listener.addEventListener("listening", () => {
      // Asked for port 0, it must come back on the port it got, not a new one.
      const address = listener.server.address();
      const netConfig = listener.status.netConfig;
      if (netConfig !== undefined && address !== null && typeof address !== "string") {
        netConfig.port = address.port;
      }
      guard.attach(listener.server, {
        label: "tcp",
        firstPhase: "handshake",
        async relisten() {
          listener.pause();
          await listener.resume();
        },
      });
    });
    return true;
  }
  return false;
}

function isTcpListener(listener: unknown): listener is Listener & TcpListenerShape {
  const shape = listener as Partial<TcpListenerShape>;
  return shape.server instanceof net.Server && typeof shape.pause === "function" &&
    typeof shape.resume === "function" && typeof shape.status === "object";
}

function isWebSocketListener(listener: unknown): listener is Listener & WebSocketListenerShape {
  const shape = listener as Partial<WebSocketListenerShape> & { wsServer?: unknown };
  return shape.server instanceof net.Server && typeof shape.onUpgrade === "function" &&
    shape.wsServer !== undefined;
}
