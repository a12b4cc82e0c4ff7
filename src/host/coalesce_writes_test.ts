import assert from "node:assert/strict";
import { loopbackNode } from "./testing.ts";
import type { Libp2p, MultiaddrConnection } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { coalesceWrites, coalescingTcp, sendCorked } from "./coalesce_writes.ts";
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

Deno.test("sendCorked() corks around several fragments and not around one", () => {
  const socket = recordingSocket();
  const many = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(100), new Uint8Array(16));
  assert.deepEqual(sendCorked(socket, many), { sentBytes: 118, canSendMore: true });
  assert.deepEqual(socket.calls, ["cork", "write 2", "write 100", "write 16", "uncork"]);

  const one = recordingSocket();
  assert.deepEqual(sendCorked(one, new Uint8ArrayList(new Uint8Array(7))), {
    sentBytes: 7,
    canSendMore: true,
  });
  assert.deepEqual(one.calls, ["write 7"]);
});

Deno.test("sendCorked() stops where the socket asks to wait and reports what it took", () => {
  const socket = recordingSocket(2);
  const data = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(100), new Uint8Array(16));
  assert.deepEqual(sendCorked(socket, data), { sentBytes: 102, canSendMore: false });
  assert.deepEqual(socket.calls, ["cork", "write 2", "write 100", "uncork"]);
});

Deno.test("sendCorked() uncorks even when a write throws", () => {
  const socket = {
    ...recordingSocket(),
    write: () => {
      throw new Error("socket destroyed");
    },
  };
  const data = new Uint8ArrayList(new Uint8Array(2), new Uint8Array(3));
  assert.throws(() => sendCorked(socket, data), /socket destroyed/);
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
