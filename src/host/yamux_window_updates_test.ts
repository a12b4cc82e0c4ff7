import assert from "node:assert/strict";
import type { Stream, StreamMuxerFactory } from "@libp2p/interface";
import { yamux } from "@libp2p/yamux";
import { cappedYamux } from "./yamux_frames.ts";
import { isWindowUpdateThresholded, thresholdWindowUpdates } from "./yamux_window_updates.ts";
import { loopbackNode } from "./testing.ts";

const PROTOCOL = "/hopd-test/window/1.0.0";

const KIB = 1024;

/** A stream shaped as @libp2p/yamux 8's, counting the updates it really sends. */
function fakeStream(state: number, init: { rtt?: number; recvWindow?: number } = {}) {
  return {
    state,
    recvWindow: init.recvWindow ?? 256 * KIB,
    recvWindowCapacity: init.recvWindow ?? 256 * KIB,
    maxStreamWindowSize: 16 * 1024 * KIB,
    epochStart: Date.now(),
    getRTT: () => init.rtt ?? -1,
    sent: 0,
    sendWindowUpdate() {
      this.sent++;
      this.recvWindowCapacity = this.recvWindow;
    },
  };
}

Deno.test("thresholdWindowUpdates() sends an update once half the window is used", async (t) => {
  for (
    const [name, init] of [
      ["no round trip measured", {}],
      ["at the largest window", { rtt: 60_000, recvWindow: 16 * 1024 * KIB }],
    ] as const
  ) {
    await t.step(name, () => {
      const stream = fakeStream(3, init); // Established
      assert.equal(thresholdWindowUpdates(stream), true);
      assert.equal(isWindowUpdateThresholded(stream), true);
      // Frames of a sixteenth of the window, each followed by yamux's call: two updates.
      const frame = stream.recvWindow / 16;
      for (let n = 1; n <= 16; n++) {
        stream.recvWindowCapacity -= frame;
        stream.sendWindowUpdate();
        assert.equal(stream.sent, Math.floor(n / 8), `after frame ${n}`);
      }
    });
  }
});

Deno.test("thresholdWindowUpdates() leaves every update to yamux while the window can grow", () => {
  // Frames within four round trips of each other: stock yamux doubles the window with each
  // update it sends, and so does the call passed through.
  const stream = fakeStream(3, { rtt: 60_000 });
  thresholdWindowUpdates(stream);
  for (let n = 1; n <= 4; n++) {
    stream.recvWindowCapacity -= 16 * KIB;
    stream.sendWindowUpdate();
  }
  assert.equal(stream.sent, 4);
});

Deno.test("thresholdWindowUpdates() passes flagged and paused calls through at once", async (t) => {
  for (const [name, state] of [["SYN received: the ACK", 2], ["paused", 5], ["init", 0]] as const) {
    await t.step(name, () => {
      const stream = fakeStream(state);
      thresholdWindowUpdates(stream);
      stream.recvWindowCapacity -= 1;
      stream.sendWindowUpdate();
      assert.equal(stream.sent, 1);
    });
  }
  await t.step("another shape: left alone", () => {
    assert.equal(thresholdWindowUpdates({ state: 3, sendWindowUpdate() {} }), false);
    assert.equal(thresholdWindowUpdates({ recvWindow: 1, recvWindowCapacity: 1 }), false);
    assert.equal(isWindowUpdateThresholded({ sendWindowUpdate() {} }), false);
  });
});

/** Data frames a muxer received, and window updates (without flags) it sent. */
interface FrameCounts {
  data: number;
  updates: number;
}

type Frame = { header: { type: number; flag: number } };

/** `muxer`, counting the frames each of its muxers receives and sends into `counts`. */
function counting(muxer: () => StreamMuxerFactory, counts: FrameCounts): () => StreamMuxerFactory {
  return () => {
    const muxers = muxer();
    const create = muxers.createStreamMuxer.bind(muxers);
    muxers.createStreamMuxer = (maConn) => {
      const created = create(maConn) as unknown as {
        handleFrame(frame: Frame): void;
        sendFrame(header: Frame["header"], data?: unknown): boolean;
      };
      const handle = created.handleFrame.bind(created);
      created.handleFrame = (frame) => {
        if (frame.header.type === 0) counts.data++; // 0: Data
        handle(frame);
      };
      // Wrapped before any stream exists: each stream binds the muxer's sendFrame as it opens.
      const send = created.sendFrame.bind(created);
      created.sendFrame = (header, data) => {
        // 1: WindowUpdate; a flag (SYN, ACK, FIN, RST) makes it a stream event, not credit.
        if (header.type === 1 && header.flag === 0) counts.updates++;
        return send(header, data);
      };
      return created as unknown as ReturnType<typeof create>;
    };
    return muxers;
  };
}

Deno.test("cappedYamux() answers small frames with one window update per half window, and every byte arrives", async (t) => {
  const TOTAL_BYTES = 1024 * 1024; // four times the initial window
  for (
    const { name, muxer, atHalf } of [
      { name: "stock yamux (control)", muxer: yamux(), atHalf: false },
      { name: "cappedYamux", muxer: cappedYamux({ maxMessageSize: 65_507 }), atHalf: true },
    ]
  ) {
    await t.step(name, async () => {
      const atReceiver: FrameCounts = { data: 0, updates: 0 };
      // The sender's frames are 2 KiB: 512 of them, each answered by stock yamux.
      const sender = await loopbackNode({
        streamMuxers: [cappedYamux({ maxMessageSize: 2048 })],
      });
      const receiver = await loopbackNode({ streamMuxers: [counting(muxer, atReceiver)] });
      try {
        const arrived = Promise.withResolvers<void>();
        let received = 0;
        await receiver.handle(PROTOCOL, (stream: Stream) => {
          stream.addEventListener("message", (evt) => {
            received += evt.data.byteLength;
            if (received >= TOTAL_BYTES) arrived.resolve();
          });
        });
        const stream = await sender.dialProtocol(receiver.getMultiaddrs()[0]!, PROTOCOL);
        atReceiver.data = 0;
        atReceiver.updates = 0;
        stream.send(new Uint8Array(TOTAL_BYTES));
        // Every byte arrives: the window updates still give the sender its credit back.
        await arrived.promise;
        await stream.close();
        const { data, updates } = atReceiver;
        assert.ok(data >= TOTAL_BYTES / 2048, `${data} data frames`);
        // 1 MiB against a 256 KiB window: at most one update per 128 KiB (8), and one per
        // doubling of the window while yamux grows it (6 to its 16 MiB maximum); stock yamux
        // sends 512, one per frame.
        if (atHalf) assert.ok(updates > 0 && updates <= 8 + 6, `${updates} for ${data}`);
        // The control shows the test can fail: stock yamux answers every frame.
        else assert.ok(updates >= data - 1, `stock sent ${updates} updates for ${data}`);
      } finally {
        await Promise.all([sender.stop(), receiver.stop()]);
      }
    });
  }
});
