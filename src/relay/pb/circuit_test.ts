/**
 * The hand-written codec against the stock (protons-generated) one, and its rejections. The
 * stock codec is imported from the package's dist because its `exports` map hides `pb`.
 * (The voucher field is left out here: the stock codec parses it as an Envelope; the
 * interop test checks a real voucher with the stock envelope code.)
 */

import assert from "node:assert/strict";
import {
  HopMessage as StockHop,
  Status as StockStatus,
  StopMessage as StockStop,
} from "../../../node_modules/@libp2p/circuit-relay-v2/dist/src/pb/index.js";
import {
  decodeHopMessage,
  decodeStopMessage,
  encodeHopMessage,
  encodeStopMessage,
  MalformedMessageError,
} from "./circuit.ts";

Deno.test("encodeHopMessage() output decodes with the stock codec", () => {
  const bytes = encodeHopMessage({
    type: "STATUS",
    status: "OK",
    reservation: {
      expire: 1_700_000_000n,
      addrs: [Uint8Array.of(4, 127, 0, 0, 1)],
    },
    limit: { duration: 120, data: 131_072n },
  });
  const stock = StockHop.decode(bytes);
  assert.equal(stock.type, "STATUS");
  assert.equal(stock.status, "OK");
  assert.equal(stock.reservation?.expire, 1_700_000_000n);
  assert.equal(stock.limit?.duration, 120);
  assert.equal(stock.limit?.data, 131_072n);
});

Deno.test("decodeHopMessage() reads what the stock client sends", () => {
  const id = Uint8Array.of(0, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(7));
  const bytes = StockHop.encode({ type: StockHop.Type.CONNECT, peer: { id, addrs: [] } });
  const msg = decodeHopMessage(bytes);
  assert.equal(msg.type, "CONNECT");
  assert.deepEqual([...(msg.peer?.id ?? [])], [...id]);
  assert.equal(decodeHopMessage(StockHop.encode({ type: StockHop.Type.RESERVE })).type, "RESERVE");
});

Deno.test("StopMessage round-trips with the stock codec both ways", () => {
  const ours = encodeStopMessage({
    type: "CONNECT",
    peer: { id: Uint8Array.of(1, 2, 3), addrs: [] },
    limit: { duration: 2 },
  });
  const stock = StockStop.decode(ours);
  assert.equal(stock.type, "CONNECT");
  assert.equal(stock.limit?.duration, 2);
  assert.equal(stock.limit?.data, undefined);
  const back = decodeStopMessage(
    StockStop.encode({ type: StockStop.Type.STATUS, status: StockStatus.OK }),
  );
  assert.equal(back.type, "STATUS");
  assert.equal(back.status, "OK");
});

Deno.test("decodeHopMessage() rejects truncated bytes, unknown enums and address floods", async (t) => {
  const flood = encodeHopMessage({
    type: "CONNECT",
    peer: { id: Uint8Array.of(1), addrs: Array.from({ length: 65 }, () => Uint8Array.of(1)) },
  });
  const cases: [string, Uint8Array][] = [
    ["truncated nested message", Uint8Array.of(0x12, 0x10, 0x0a)],
    ["unknown type", Uint8Array.of(0x08, 0x09)],
    ["unknown status", Uint8Array.of(0x28, 0x07)],
    ["65 addrs", flood],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      assert.throws(() => decodeHopMessage(bytes), MalformedMessageError);
    });
  }
});
