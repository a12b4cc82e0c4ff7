import assert from "node:assert/strict";
import { loopbackNode } from "./testing.ts";
import type { Libp2p, MultiaddrConnection } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { coalesceWrites, coalescingTcp } from "./coalesce_writes.ts";
import { relayNoise } from "./noise_crypto.ts";

function recordingSocket(acceptWrites = Infinity) {
  const calls: string[] = [];
  let writes = 0;
  return {
    calls,
    cork: () => void calls.push("cork"),
    uncork: () => void calls.push("uncork"),
    write: (chunk: Uint8Array) => {
      calls.push(`write ${chunk.byteLength}`);
      return ++writes < acceptWrites;
    },
  };
}

/** A @libp2p/tcp connection's shape over a recording socket, its writes coalesced. */
function coalescedConnection(socket: ReturnType<typeof recordingSocket>) {
  const connection = { socket, sendData: () => ({ sentBytes: 0, canSendMore: true }) };
  assert.equal(coalesceWrites(connection as unknown as MultiaddrConnection), true);
  return connection as unknown as {
    sendData(data: Iterable<Uint8Array>): { sentBytes: number; canSendMore: boolean };
  };
}

Deno.test("coalesceWrites() corks once per task: the messages of one task share one writev", async () => {
  const socket = recordingSocket();
  const connection = coalescedConnection(socket);
  // A full Noise message and a tail one, as a relayed 64 KiB chunk makes, in one task.
  const message = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(100), new Uint8Array(16));
  assert.deepEqual(connection.sendData(message), { sentBytes: 118, canSendMore: true });
  const tail = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(41));
  assert.deepEqual(connection.sendData(tail), { sentBytes: 43, canSendMore: true });
  assert.deepEqual(socket.calls, [
    "cork",
    "write 2",
    "write 100",
    "write 16",
    "write 2",
    "write 41",
  ]);
  await Promise.resolve();
  assert.deepEqual(socket.calls.slice(6), ["uncork"]);
  // The next task corks again.
  connection.sendData(new Uint8ArrayList(new Uint8Array(7)));
  await Promise.resolve();
  assert.deepEqual(socket.calls.slice(7), ["cork", "write 7", "uncork"]);
});

Deno.test("coalesceWrites() stops where the socket asks to wait and reports what it took", async () => {
  const socket = recordingSocket(2);
  const connection = coalescedConnection(socket);
  const data = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(100), new Uint8Array(16));
  assert.deepEqual(connection.sendData(data), { sentBytes: 102, canSendMore: false });
  await Promise.resolve();
  assert.deepEqual(socket.calls, ["cork", "write 2", "write 100", "uncork"]);
});

Deno.test("coalesceWrites() uncorks at the end of the task even when a write throws", async () => {
  const socket = {
    ...recordingSocket(),
    write: () => {
      throw new Error("socket destroyed");
    },
  };
  const connection = coalescedConnection(socket);
  assert.throws(
    () => connection.sendData(new Uint8ArrayList(new Uint8Array(2), new Uint8Array(3))),
    /socket destroyed/,
  );
  await Promise.resolve();
  assert.deepEqual(socket.calls, ["cork", "uncork"]);
});

Deno.test("coalesceWrites() leaves connections of another shape alone", () => {
  const webSocketLike = { sendData: () => {}, socket: { send: () => {} } };
  assert.equal(coalesceWrites(webSocketLike as unknown as MultiaddrConnection), false);
  assert.equal(coalesceWrites({} as MultiaddrConnection), false);
});

Deno.test("coalescingTcp() and relayNoise() on @libp2p/tcp's real connections: 4 MiB crosses intact both ways", async () => {
  const make = () =>
    loopbackNode({ transports: [coalescingTcp()], connectionEncrypters: [relayNoise()] });
  const [server, client] = [await make(), await make()];
  // Patched means the connection carries its own sendData, not the class's.
  const patched = (node: Libp2p) =>
    node.getConnections().map((connection) => {
      const maConn = (connection as unknown as { maConn: { sendData: unknown } }).maConn;
      return Object.hasOwn(maConn, "sendData") &&
        maConn.sendData !== Object.getPrototypeOf(maConn).sendData;
    });
  try {
    // The server sends back what it reads, so the patched side writes large Noise messages.
    await server.handle("/echo", async (stream) => {
      for await (const chunk of stream) {
        if (!stream.send(chunk)) await stream.onDrain();
      }
      await stream.close();
    });
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, "/echo");
    const payload = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const total = 4 * 1024 * 1024;
    const received = new Uint8ArrayList();
    const reading = (async () => {
      for await (const chunk of stream) {
        received.append(chunk);
        if (received.byteLength >= total) break;
      }
    })();
    for (let sent = 0; sent < total; sent += payload.byteLength) {
      if (!stream.send(payload)) await stream.onDrain();
    }
    await reading;
    await stream.close();
    assert.deepEqual(patched(server), [true], "inbound");
    assert.deepEqual(patched(client), [true], "outbound");
    assert.equal(received.byteLength, total);
    for (let offset = 0; offset < total; offset += payload.byteLength) {
      assert.deepEqual(received.subarray(offset, offset + payload.byteLength), payload);
    }
  } finally {
    await Promise.all([server.stop(), client.stop()]);
  }
});
