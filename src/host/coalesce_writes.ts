/**
 * One socket write per libp2p message instead of one per fragment.
 *
 * A Noise message leaves @libp2p/noise as a list of fragments: the 2-byte length prefix, the
 * ciphertext (one piece per yamux fragment) and the 16-byte tag. @libp2p/tcp 11.0.28 writes
 * each fragment with its own `socket.write`, so every relayed 64 KiB frame costs three
 * `sendto` system calls, and with Nagle off three TCP segments, two of them 2 and 16 bytes
 * long (strace of hopd relaying: 694 two-byte and 522 sixteen-byte sends per second). Corking
 * the socket hands the fragments to one `writev` instead, without copying them.
 *
 * The cork lasts to the end of the task (a microtask uncorks it), not just one message: the
 * Noise messages written in one task share one `writev`. A relay writes several per task: a
 * 64 KiB chunk from a go-libp2p or js-libp2p source goes on as a full yamux frame and a 29-byte
 * tail frame (65,536 bytes and two 12-byte headers do not fit one 65,535-byte Noise message),
 * each its own Noise message and, corked per message, its own `writev`. Nothing waits longer
 * than the task that wrote it.
 *
 * `coalescingTcp()` replaces `sendData` on every TCP connection, inbound and outbound, as the
 * transport hands it to the upgrader; anything not shaped like @libp2p/tcp's connection is
 * left alone, and the host warns once (patch_warnings.ts).
 *
 * Version guard: @libp2p/tcp 11.0.28 (src/host/versions.ts). Upstream fix: @libp2p/tcp's
 * `sendData` corking the socket around a multi-fragment write (or `socket.writev`).
 *
 * @module
 */

import type { MultiaddrConnection, Transport, Upgrader } from "@libp2p/interface";
import { tcp, type TCPComponents, type TCPOptions } from "@libp2p/tcp";
import type { PatchWarnings } from "./patch_warnings.ts";

/** The part of node:net's Socket this uses. */
interface CorkableSocket {
  cork(): void;
  uncork(): void;
  write(chunk: Uint8Array): boolean;
}

/** The part of @libp2p/tcp's connection this touches. */
interface TcpConnectionLike {
  socket?: Partial<CorkableSocket>;
  sendData?: unknown;
}

/**
 * Makes a TCP connection from @libp2p/tcp write the fragments of every message of one task
 * with one system call. Same semantics as the original: fragments are written in order until
 * the socket asks the writer to wait; what was written is reported as sent.
 *
 * @param maConn A connection, before it is upgraded.
 * @returns False when `maConn` is not a @libp2p/tcp connection (nothing is changed).
 */
export function coalesceWrites(maConn: MultiaddrConnection): boolean {
  const connection = maConn as unknown as TcpConnectionLike;
  const socket = connection.socket;
  if (
    typeof connection.sendData !== "function" || socket === undefined ||
    typeof socket.cork !== "function" || typeof socket.uncork !== "function" ||
    typeof socket.write !== "function"
  ) {
    return false;
  }
  const corkable = socket as CorkableSocket;
  let corked = false;
  const uncork = () => {
    corked = false;
    corkable.uncork();
  };
  connection.sendData = (data: Iterable<Uint8Array>) => {
    if (!corked) {
      // Uncorked at the end of the task, also when a write throws: every message written in
      // this task goes out in one `writev` then.
      corked = true;
      corkable.cork();
      queueMicrotask(uncork);
    }
    return sendFragments(corkable, data);
  };
  return true;
}

/**
 * Writes `data`'s fragments to `socket` in order until it asks the writer to wait.
 *
 * @returns Bytes handed to the socket and whether it takes more now.
 */
function sendFragments(
  socket: CorkableSocket,
  data: Iterable<Uint8Array>,
): { sentBytes: number; canSendMore: boolean } {
  let sentBytes = 0;
  let canSendMore = true;
  for (const buf of data instanceof Uint8Array ? [data] : data) {
    sentBytes += buf.byteLength;
    canSendMore = socket.write(buf);
    if (!canSendMore) break;
  }
  return { sentBytes, canSendMore };
}

/**
 * @libp2p/tcp's transport with {@linkcode coalesceWrites} applied to every connection, inbound
 * and outbound, before it is upgraded.
 *
 * @param init Options for `tcp()`.
 * @param warnings Told when a connection is not shaped as @libp2p/tcp's (it is left alone).
 * @returns A transport factory for libp2p.
 */
export function coalescingTcp(
  init?: TCPOptions,
  warnings?: PatchWarnings,
): (components: TCPComponents) => Transport {
  const factory = tcp(init);
  return (components) => {
    const transport = factory(components);
    const dial = transport.dial.bind(transport);
    const createListener = transport.createListener.bind(transport);
    transport.dial = (ma, options) =>
      dial(ma, { ...options, upgrader: coalescingUpgrader(options.upgrader, warnings) });
    transport.createListener = (options) =>
      createListener({ ...options, upgrader: coalescingUpgrader(options.upgrader, warnings) });
    return transport;
  };
}

/**
 * `upgrader`, coalescing each connection's writes before it upgrades it.
 *
 * @param upgrader libp2p's upgrader.
 * @param warnings Told when a connection is not shaped as @libp2p/tcp's (it is left alone).
 * @returns An upgrader that coalesces, then upgrades.
 */
export function coalescingUpgrader(upgrader: Upgrader, warnings?: PatchWarnings): Upgrader {
  const coalescing: Upgrader = Object.create(upgrader);
  coalescing.upgradeInbound = (maConn, options) => {
    if (!coalesceWrites(maConn)) warnings?.notApplied("coalesce_writes");
    return upgrader.upgradeInbound(maConn, options);
  };
  coalescing.upgradeOutbound = (maConn, options) => {
    if (!coalesceWrites(maConn)) warnings?.notApplied("coalesce_writes");
    return upgrader.upgradeOutbound(maConn, options);
  };
  return coalescing;
}
