import assert from "node:assert/strict";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { yamux } from "@libp2p/yamux";
import { loopbackNode } from "./testing.ts";
import { cappedYamux } from "./yamux_frames.ts";
import { synWithFirstFrame } from "./yamux_syn.ts";

const ECHO = "/hopd-test/echo/1.0.0";
const DATA = 0;
const WINDOW_UPDATE = 1;
const SYN = 1;
const ACK = 2;

interface SentFrame {
  type: number;
  flag: number;
  streamID: number;
}

/** Records every frame the connection's yamux muxer sends from now on. */
function recordFrames(connection: Connection): SentFrame[] {
  const muxer = (connection as unknown as {
    muxer: { sendFrame(header: SentFrame, data?: unknown): boolean };
  }).muxer;
  const frames: SentFrame[] = [];
  const send = muxer.sendFrame.bind(muxer);
  muxer.sendFrame = (header, data) => {
    frames.push({ type: header.type, flag: header.flag, streamID: header.streamID });
    return send(header, data);
  };
  return frames;
}

/** A dialer with the given muxer and an echo server (stock unless asked), connected. */
async function dialerAndServer(
  muxer: "capped" | "stock",
  serverMuxer: "capped" | "stock" = "stock",
) {
  const server = await loopbackNode({
    streamMuxers: [serverMuxer === "capped" ? cappedYamux({ maxMessageSize: 65_507 }) : yamux()],
  });
  await server.handle(ECHO, (stream: Stream) => {
    stream.addEventListener("message", (event) => stream.send(event.data));
    stream.addEventListener("remoteCloseWrite", () => void stream.close().catch(() => {}));
  });
  const dialer: Libp2p = await loopbackNode({
    streamMuxers: [muxer === "capped" ? cappedYamux({ maxMessageSize: 65_507 }) : yamux()],
  });
  const connection = await dialer.dial(server.getMultiaddrs()[0]!);
  return { server, dialer, connection };
}

/** Opens an echo stream, echoes 5 bytes and closes; returns the frames of that stream. */
async function echoOnce(connection: Connection, frames: SentFrame[]): Promise<SentFrame[]> {
  const stream = await connection.newStream(ECHO);
  const echoed = new Promise<Uint8Array>((resolve) =>
    stream.addEventListener("message", (event) => resolve(Uint8Array.from(event.data.subarray())), {
      once: true,
    })
  );
  stream.send(new Uint8Array([1, 2, 3, 4, 5]));
  assert.deepEqual(await echoed, new Uint8Array([1, 2, 3, 4, 5]));
  await stream.close();
  const id = Number(stream.id);
  return frames.filter((f) => f.streamID === id);
}

Deno.test("synWithFirstFrame(): a new outbound stream's SYN rides on its first frame", async (t) => {
  await t.step("stock yamux sends the SYN as a window update of its own (control)", async () => {
    const { server, dialer, connection } = await dialerAndServer("stock");
    try {
      const frames = await echoOnce(connection, recordFrames(connection));
      assert.deepEqual(frames[0], {
        type: WINDOW_UPDATE,
        flag: SYN,
        streamID: frames[0]!.streamID,
      });
    } finally {
      await dialer.stop();
      await server.stop();
    }
  });

  await t.step("cappedYamux: the first frame is multistream-select's data, with SYN", async () => {
    const { server, dialer, connection } = await dialerAndServer("capped");
    try {
      const frames = await echoOnce(connection, recordFrames(connection));
      assert.equal(frames[0]!.type, DATA);
      assert.equal(frames[0]!.flag & SYN, SYN);
      assert.equal(frames.filter((f) => f.flag & SYN).length, 1, "one SYN");
      // Still interoperates for the next stream too.
      await echoOnce(connection, []);
    } finally {
      await dialer.stop();
      await server.stop();
    }
  });
});

Deno.test("synWithFirstFrame(): an inbound stream's ACK rides on its first answer", async (t) => {
  for (const serverMuxer of ["stock", "capped"] as const) {
    await t.step(`${serverMuxer} server`, async () => {
      const { server, dialer, connection } = await dialerAndServer("stock", serverMuxer);
      try {
        const inbound = server.getConnections(dialer.peerId)[0] ??
          await new Promise<Connection>((resolve) =>
            server.addEventListener("connection:open", (event) => resolve(event.detail), {
              once: true,
            })
          );
        const served = recordFrames(inbound);
        const [opened] = await echoOnce(connection, recordFrames(connection));
        const frames = served.filter((f) => f.streamID === opened!.streamID);
        const acks = frames.filter((f) => f.flag & ACK);
        assert.equal(acks.length, 1, "one ACK");
        assert.equal(
          acks[0]!.type,
          serverMuxer === "stock" ? WINDOW_UPDATE : DATA,
          serverMuxer === "stock"
            ? "stock: the ACK is a window update of its own (control)"
            : "the ACK rides on multistream-select's answer",
        );
        assert.equal(frames[0], acks[0]);
        await echoOnce(connection, []);
      } finally {
        await dialer.stop();
        await server.stop();
      }
    });
  }
});

Deno.test("synWithFirstFrame(): a stream that sends nothing still opens, one macrotask later", async () => {
  const { server, dialer, connection } = await dialerAndServer("capped");
  try {
    const frames = recordFrames(connection);
    const muxer = (connection as unknown as { muxer: { createStream(): Promise<Stream> } }).muxer;
    const stream = await muxer.createStream();
    const id = Number(stream.id);
    // One macrotask: the deferred window update's timer was set first, so it has run by then.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(frames.filter((f) => f.streamID === id), [
      { type: WINDOW_UPDATE, flag: SYN, streamID: id },
    ]);
    // Aborted before its turn: nothing at all, not even the SYN.
    const quiet = await muxer.createStream();
    quiet.abort(new Error("test"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(frames.filter((f) => f.streamID === Number(quiet.id) && f.flag & SYN).length, 0);
    stream.abort(new Error("test"));
  } finally {
    await dialer.stop();
    await server.stop();
  }
});

Deno.test("synWithFirstFrame() leaves other shapes and established streams alone", () => {
  assert.equal(synWithFirstFrame({}), false);
  const sendWindowUpdate = () => {};
  const established = { state: 3, status: "open", sendWindowUpdate };
  assert.equal(synWithFirstFrame(established), true);
  assert.equal(established.sendWindowUpdate, sendWindowUpdate);
});
