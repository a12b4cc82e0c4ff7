import assert from "node:assert/strict";
import type { Libp2p, Stream, StreamMuxerFactory } from "@libp2p/interface";
import { yamux } from "@libp2p/yamux";
import { capMuxerFrames, cappedYamux, capStreamFrames } from "./yamux_frames.ts";
import { loopbackNode } from "./testing.ts";

const PROTOCOL = "/hopd-test/frames/1.0.0";
const CAP = 65_507;

Deno.test("capStreamFrames() caps the frame size yamux sets, then and later", () => {
  const stream = { maxMessageSize: 262_132 };
  assert.equal(capStreamFrames(stream, CAP), true);
  assert.equal(stream.maxMessageSize, CAP);
  stream.maxMessageSize = 16 * 1024 * 1024 - 12; // a window update from a grown window
  assert.equal(stream.maxMessageSize, CAP);
  stream.maxMessageSize = 1_000; // a nearly exhausted window stays as small as it is
  assert.equal(stream.maxMessageSize, 1_000);
  stream.maxMessageSize = 0;
  assert.equal(stream.maxMessageSize, 0);
});

Deno.test("capStreamFrames() and capMuxerFrames() leave other shapes alone", () => {
  assert.equal(capStreamFrames({}, CAP), false);
  const readOnly = Object.freeze({ maxMessageSize: 10 });
  assert.equal(capStreamFrames(readOnly, CAP), false);
  assert.equal(capMuxerFrames({ newStream: () => ({}) }, CAP), false);
  let misshapen = 0;
  const muxer = { _newStream: () => ({ other: true }) };
  assert.equal(capMuxerFrames(muxer, CAP, { onMisshapen: () => misshapen++ }), true);
  muxer._newStream();
  assert.equal(misshapen, 1);
});

/** Stock yamux that records the payload length of every data frame its muxers receive. */
function recordingYamux(lengths: number[]): () => StreamMuxerFactory {
  const factory = yamux();
  return () => {
    const muxers = factory();
    const create = muxers.createStreamMuxer.bind(muxers);
    muxers.createStreamMuxer = (maConn) => {
      const muxer = create(maConn) as unknown as {
        handleFrame(frame: { header: { type: number; length: number } }): void;
      };
      const handle = muxer.handleFrame.bind(muxer);
      muxer.handleFrame = (frame) => {
        if (frame.header.type === 0) lengths.push(frame.header.length); // 0: Data
        handle(frame);
      };
      return muxer as unknown as ReturnType<typeof create>;
    };
    return muxers;
  };
}

/** Sends `bytes` in one `send` from `sender` to `receiver`; resolves once all arrived. */
async function sendAtOnce(sender: Libp2p, receiver: Libp2p, bytes: number): Promise<void> {
  const arrived = Promise.withResolvers<void>();
  let received = 0;
  await receiver.handle(PROTOCOL, (stream: Stream) => {
    stream.addEventListener("message", (evt) => {
      received += evt.data.byteLength;
      if (received >= bytes) arrived.resolve();
    });
  });
  const stream = await sender.dialProtocol(receiver.getMultiaddrs()[0]!, PROTOCOL);
  stream.send(new Uint8Array(bytes));
  await arrived.promise;
  await stream.close();
}

Deno.test("cappedYamux() sends no data frame above its cap to a stock node", async (t) => {
  for (
    const { name, muxer, capped } of [
      { name: "stock yamux (control)", muxer: yamux(), capped: false },
      { name: "cappedYamux", muxer: cappedYamux({ maxMessageSize: CAP }), capped: true },
    ]
  ) {
    await t.step(name, async () => {
      const lengths: number[] = [];
      const receiver = await loopbackNode({ streamMuxers: [recordingYamux(lengths)] });
      const sender = await loopbackNode({ streamMuxers: [muxer] });
      try {
        await sendAtOnce(sender, receiver, 4 * 1024 * 1024);
        const largest = Math.max(...lengths);
        if (capped) assert.ok(largest <= CAP, `largest data frame ${largest} > ${CAP}`);
        // The control shows the test can fail: stock yamux sends its whole window at once.
        else assert.ok(largest > CAP, `stock yamux's largest frame was ${largest}`);
        // Every byte came in data frames (and a few more: multistream-select's).
        assert.ok(lengths.reduce((a, b) => a + b, 0) >= 4 * 1024 * 1024);
      } finally {
        await Promise.all([sender.stop(), receiver.stop()]);
      }
    });
  }
});
