import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { loopbackNode } from "./testing.ts";
import { openUnnegotiatedStream, unnegotiatedStreamsSupported } from "./pipelined_stream.ts";

const PROTOCOL = "/hopd/test/pipelined/1.0.0";
const encoder = new TextEncoder();

async function withPair(run: (dialer: Libp2p, listener: Libp2p) => Promise<void>): Promise<void> {
  const [dialer, listener] = [await loopbackNode(), await loopbackNode()];
  try {
    await run(dialer, listener);
  } finally {
    await Promise.all([dialer.stop(), listener.stop()]);
  }
}

/** One length-prefixed multistream-select frame (lengths below 128 fit one varint byte). */
function frame(text: string): Uint8Array {
  const body = encoder.encode(text);
  return new Uint8Array([body.byteLength, ...body]);
}

const options = () => ({ signal: AbortSignal.timeout(5_000), maxOutboundStreams: 1 });

Deno.test("openUnnegotiatedStream() opens a stream on a real js-libp2p connection, which a stock handler answers once the caller selects the protocol", async () => {
  await withPair(async (dialer, listener) => {
    const received = Promise.withResolvers<string>();
    await listener.handle(PROTOCOL, async (stream) => {
      for await (const chunk of stream) {
        received.resolve(new TextDecoder().decode(chunk.subarray()));
        break;
      }
    });
    const connection = await dialer.dial(listener.getMultiaddrs()[0]!);
    const opened = openUnnegotiatedStream(connection, PROTOCOL, options());
    assert.ok(opened !== undefined, "js-libp2p's connection changed shape: see the module doc");
    const stream = await opened;
    assert.equal(stream.protocol, PROTOCOL);
    // The caller's selection and first message in one write: the handler gets the message.
    stream.send(
      new Uint8Array([
        ...frame("/multistream/1.0.0\n"),
        ...frame(`${PROTOCOL}\n`),
        ...encoder.encode("first"),
      ]),
    );
    assert.equal(await received.promise, "first");
    // Counted against the protocol's outbound limit, as newStream's streams are.
    await assert.rejects(openUnnegotiatedStream(connection, PROTOCOL, options())!, RangeError);
    stream.abort(new Error("done"));
  });
});

Deno.test("openUnnegotiatedStream() leaves a connection of another shape to newStream", async () => {
  await withPair(async (dialer, listener) => {
    const real = await dialer.dial(listener.getMultiaddrs()[0]!);
    const noMuxer = Object.create(real, { muxer: { value: undefined } });
    assert.equal(openUnnegotiatedStream(noMuxer, PROTOCOL, options()), undefined);
    const limited = Object.create(real, { limits: { value: { bytes: 1n } } });
    assert.equal(openUnnegotiatedStream(limited, PROTOCOL, options()), undefined);
    await real.close();
    assert.equal(openUnnegotiatedStream(real, PROTOCOL, options()), undefined);
  });
});

Deno.test("unnegotiatedStreamsSupported() holds for the js-libp2p it mirrors only", () => {
  assert.equal(unnegotiatedStreamsSupported(), true, "js-libp2p was upgraded: re-check newStream");
  assert.equal(unnegotiatedStreamsSupported("3.4.0"), false);
});
