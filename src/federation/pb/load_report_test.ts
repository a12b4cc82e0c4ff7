import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { encodeMessage } from "protons-runtime";
import {
  decodeLoadReport,
  encodeLoadReport,
  type LoadReport,
  MalformedReportError,
} from "./load_report.ts";

function sample(init: Partial<LoadReport> = {}): LoadReport {
  return {
    epoch: 1_763_000_000_000,
    seq: 42,
    sentAtMs: 1_763_000_001_234,
    intervalMs: 1_000,
    addrs: [multiaddr("/ip4/203.0.113.7/tcp/4001").bytes, multiaddr("/ip6/::1/tcp/4002/ws").bytes],
    region: "eu-west",
    lat: 50.11,
    lon: 8.68,
    capacity: { maxReservations: 16_384, maxCircuits: 4_096, bandwidthBytesPerSecond: 125_000_000 },
    load: {
      reservations: 1_200,
      circuits: 37,
      bytesPerSecondIn: 1_500_000,
      bytesPerSecondOut: 900_000,
      cpu: 0.42,
      memoryBytes: 250_000_000,
    },
    verdict: "degraded",
    draining: true,
    weight: 1.5,
    leaving: false,
    ...init,
  };
}

Deno.test("encodeLoadReport() and decodeLoadReport() round-trip every field", () => {
  const report = sample();
  assert.deepEqual(decodeLoadReport(encodeLoadReport(report)), report);
  const plain = sample({
    region: "",
    lat: undefined,
    lon: undefined,
    verdict: "healthy",
    draining: false,
    leaving: true,
  });
  delete plain.lat;
  delete plain.lon;
  assert.deepEqual(decodeLoadReport(encodeLoadReport(plain)), plain);
});

Deno.test("a load report is small: about 150 bytes with two addresses", () => {
  const size = encodeLoadReport(sample()).byteLength;
  assert.ok(size > 80 && size < 200, `${size} bytes`);
});

Deno.test("decodeLoadReport() skips unknown fields (a newer member's report still reads)", () => {
  const bytes = encodeLoadReport(sample());
  const extra = encodeMessage({}, { encode: (_m, w) => w.uint32((99 << 3) | 2).string("future") });
  const joined = new Uint8Array(bytes.length + extra.length);
  joined.set(bytes);
  joined.set(extra, bytes.length);
  assert.deepEqual(decodeLoadReport(joined), sample());
});

Deno.test("decodeLoadReport() refuses what would mislead the balancer", async (t) => {
  const cases: Array<[string, Uint8Array]> = [
    ["truncated", encodeLoadReport(sample()).subarray(0, 30)],
    ["weight above 1000", encodeLoadReport(sample({ weight: 5_000 }))],
    ["negative weight", encodeLoadReport(sample({ weight: -1 }))],
    ["NaN cpu", encodeLoadReport(sample({ load: { ...sample().load, cpu: NaN } }))],
    ["latitude out of range", encodeLoadReport(sample({ lat: 91 }))],
    ["region too long", encodeLoadReport(sample({ region: "x".repeat(65) }))],
    [
      "17 addrs",
      encodeLoadReport(sample({ addrs: Array(17).fill(multiaddr("/ip4/1.2.3.4/tcp/1").bytes) })),
    ],
    ["an addr of 300 bytes", encodeLoadReport(sample({ addrs: [new Uint8Array(300)] }))],
    ["unknown verdict", encodeMessage({}, { encode: (_m, w) => w.uint32((11 << 3) | 0).int32(7) })],
    ["garbage", new Uint8Array([0xff, 0xff, 0xff, 0xff])],
  ];
  for (const [name, bytes] of cases) {
    await t.step(name, () => {
      assert.throws(() => decodeLoadReport(bytes), MalformedReportError);
    });
  }
});
