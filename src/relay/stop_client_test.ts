import assert from "node:assert/strict";
import { loopbackNode } from "../host/testing.ts";
import type { Libp2p } from "@libp2p/interface";
import { encodeFrame, FrameReader } from "./_framing.ts";
import { STOP_PROTOCOL } from "./constants.ts";
import { decodeStopMessage, encodeStopMessage } from "./pb/circuit.ts";
import { openStopStream } from "./stop_client.ts";

const node = () => loopbackNode();

async function withPair(run: (relay: Libp2p, target: Libp2p) => Promise<void>): Promise<void> {
  const [relay, target] = [await node(), await node()];
  try {
    await run(relay, target);
  } finally {
    await Promise.all([relay.stop(), target.stop()]);
  }
}

/** Makes `target` answer every STOP CONNECT with STATUS OK. */
async function answerStopOk(target: Libp2p): Promise<void> {
  await target.handle(STOP_PROTOCOL, async (stream) => {
    const reader = new FrameReader(stream, 4096);
    decodeStopMessage(await reader.read());
    reader.unwrap().send(encodeFrame(encodeStopMessage({ type: "STATUS", status: "OK" })));
  });
}

const request = () => ({
  source: new Uint8Array([0, 4, 1, 2, 3, 4]),
  limit: { duration: 120, data: 131_072n },
  maxMessageBytes: 4096,
  pipeline: true,
  signal: AbortSignal.timeout(5_000),
});

Deno.test("openStopStream() pipelines the negotiation with a stock js-libp2p target, and the circuit carries data", async () => {
  await withPair(async (relay, target) => {
    const seen: unknown[] = [];
    await target.handle(STOP_PROTOCOL, async (stream) => {
      const reader = new FrameReader(stream, 4096);
      const connect = decodeStopMessage(await reader.read());
      seen.push(connect.type, connect.limit?.duration);
      const raw = reader.unwrap();
      raw.send(encodeFrame(encodeStopMessage({ type: "STATUS", status: "OK" })));
      for await (const chunk of raw) raw.send(chunk); // echo what the circuit carries
      await raw.close();
    });
    const connection = await relay.dial(target.getMultiaddrs()[0]!);
    // The pipelined path never waits for newStream's separate negotiation.
    connection.newStream = () => Promise.reject(new Error("newStream must not be used"));
    const result = await openStopStream(connection, request());
    assert.equal(result.status, "OK");
    assert.deepEqual(seen, ["CONNECT", 120]);
    if (result.status !== "OK") return;
    assert.equal(result.mode, "pipelined");
    assert.equal(result.stream.protocol, STOP_PROTOCOL);
    const echoed = new Promise<Uint8Array>((resolve) => {
      result.stream.addEventListener("message", (event) => resolve(event.data.subarray()), {
        once: true,
      });
    });
    result.stream.send(new TextEncoder().encode("through"));
    assert.equal(new TextDecoder().decode(await echoed), "through");
    await result.stream.close();
  });
});

Deno.test("openStopStream() fails with open_failed when the target does not speak stop", async () => {
  await withPair(async (relay, target) => {
    const connection = await relay.dial(target.getMultiaddrs()[0]!);
    const result = await openStopStream(connection, request());
    assert.deepEqual(result, { status: "CONNECTION_FAILED", reason: "open_failed" });
  });
});

Deno.test("openStopStream() falls back to newStream on a connection of another shape", async () => {
  await withPair(async (relay, target) => {
    await answerStopOk(target);
    const real = await relay.dial(target.getMultiaddrs()[0]!);
    let opened = 0;
    const other = {
      status: "open",
      limits: undefined,
      streams: [],
      newStream: (...args: Parameters<typeof real.newStream>) => {
        opened++;
        return real.newStream(...args);
      },
    } as unknown as typeof real;
    let told = 0;
    const result = await openStopStream(other, { ...request(), onNotPipelined: () => told++ });
    assert.equal(result.status, "OK");
    assert.equal(opened, 1);
    assert.equal(told, 1);
    assert.equal(result.status === "OK" && result.mode, "negotiated");
  });
});

Deno.test("openStopStream() negotiates first with newStream when pipelining is off", async () => {
  await withPair(async (relay, target) => {
    await answerStopOk(target);
    const connection = await relay.dial(target.getMultiaddrs()[0]!);
    const newStream = connection.newStream.bind(connection);
    let opened = 0;
    connection.newStream = (...args: Parameters<typeof newStream>) => {
      opened++;
      return newStream(...args);
    };
    let told = 0;
    const result = await openStopStream(connection, {
      ...request(),
      pipeline: false,
      onNotPipelined: () => told++,
    });
    assert.equal(result.status, "OK");
    assert.equal(opened, 1);
    assert.equal(told, 0, "pipelining off is asked for, not a missed patch");
    assert.equal(result.status === "OK" && result.mode, "negotiated");
  });
});
