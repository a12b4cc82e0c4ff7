/** The hand-written AutoNAT v1 codec: spec field numbers on the wire, round trips, rejections. */

import assert from "node:assert/strict";
import {
  decodeAutonatMessage,
  encodeAutonatMessage,
  MalformedAutonatMessageError,
  MAX_PEER_ADDRS,
} from "./autonat.ts";

Deno.test("AutoNAT codec writes the spec's field numbers and enum values", () => {
  // DIAL (type 0) with peer {id: [1,2], addrs: [[3]]}:
  // 08 00 | 12 09 (dial) 0a 07 (peer) 0a 02 01 02 (id) 12 01 03 (addr)
  const dial = encodeAutonatMessage({
    type: "DIAL",
    dial: { peer: { id: Uint8Array.of(1, 2), addrs: [Uint8Array.of(3)] } },
  });
  assert.deepEqual(
    [...dial],
    [0x08, 0x00, 0x12, 0x09, 0x0a, 0x07, 0x0a, 0x02, 1, 2, 0x12, 0x01, 3],
  );
  // DIAL_RESPONSE (1) with status E_DIAL_ERROR (100), text "x", addr [9]:
  // 08 01 | 1a 08 (dialResponse) 08 64 (status) 12 01 78 (text) 1a 01 09 (addr)
  const response = encodeAutonatMessage({
    type: "DIAL_RESPONSE",
    dialResponse: { status: "E_DIAL_ERROR", statusText: "x", addr: Uint8Array.of(9) },
  });
  assert.deepEqual(
    [...response],
    [0x08, 0x01, 0x1a, 0x08, 0x08, 0x64, 0x12, 0x01, 0x78, 0x1a, 0x01, 9],
  );
});

Deno.test("AutoNAT codec round-trips every status", () => {
  for (
    const status of [
      "OK",
      "E_DIAL_ERROR",
      "E_DIAL_REFUSED",
      "E_BAD_REQUEST",
      "E_INTERNAL_ERROR",
    ] as const
  ) {
    const message = {
      type: "DIAL_RESPONSE" as const,
      dialResponse: { status, statusText: status },
    };
    assert.deepEqual(decodeAutonatMessage(encodeAutonatMessage(message)), message);
  }
  const dial = { type: "DIAL" as const, dial: { peer: { addrs: [Uint8Array.of(4, 5)] } } };
  assert.deepEqual(decodeAutonatMessage(encodeAutonatMessage(dial)), dial);
});

Deno.test("AutoNAT codec rejects unknown enums, garbage and too many addresses", () => {
  assert.throws(
    () => decodeAutonatMessage(Uint8Array.of(0x08, 0x07)),
    MalformedAutonatMessageError,
  );
  assert.throws(
    () => decodeAutonatMessage(Uint8Array.of(0x1a, 0x02, 0x08, 0x05)),
    MalformedAutonatMessageError,
  );
  assert.throws(
    () => decodeAutonatMessage(Uint8Array.of(0xff, 0xff)),
    MalformedAutonatMessageError,
  );
  const many = encodeAutonatMessage({
    type: "DIAL",
    dial: { peer: { addrs: Array.from({ length: MAX_PEER_ADDRS + 1 }, () => Uint8Array.of(1)) } },
  });
  assert.throws(() => decodeAutonatMessage(many), /more than 64 addresses/);
});
