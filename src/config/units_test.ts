import assert from "node:assert/strict";
import { formatDurationMs, parseDurationMs, parseSizeBytes } from "./units.ts";

Deno.test("parseDurationMs() reads every unit and compound durations", async (t) => {
  const cases: [string, number][] = [
    ["0", 0],
    ["0s", 0],
    ["250ms", 250],
    ["90s", 90_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["1m30s500ms", 90_500],
    ["1.5s", 1_500],
    ["  10s  ", 10_000],
  ];
  for (const [text, expectedMs] of cases) {
    await t.step(`${JSON.stringify(text)} is ${expectedMs} ms`, () => {
      assert.equal(parseDurationMs(text), expectedMs);
    });
  }
});

Deno.test("parseDurationMs() rejects text that is not a duration", async (t) => {
  const cases = [
    "",
    "   ",
    "5",
    "00",
    "1x",
    "-1s",
    "s",
    "ms",
    "1h 30m",
    "1h30",
    "10 s",
    "1.s",
    "1e3ms",
    "ten seconds",
    "99999999999999999999d",
  ];
  for (const text of cases) {
    await t.step(`${JSON.stringify(text)} is undefined`, () => {
      assert.equal(parseDurationMs(text), undefined);
    });
  }
});

Deno.test("parseDurationMs() gives the same answer on repeated calls (no stale regex state)", () => {
  // The unit pattern is a shared sticky regex; a failed parse must not poison the next one.
  assert.equal(parseDurationMs("1h30x"), undefined);
  assert.equal(parseDurationMs("1h30m"), 5_400_000);
  assert.equal(parseDurationMs("1h30m"), 5_400_000);
});

Deno.test("parseSizeBytes() reads bare bytes, SI and binary units in any case", async (t) => {
  const cases: [string, number][] = [
    ["0", 0],
    ["4096", 4_096],
    ["4096B", 4_096],
    ["128KiB", 131_072],
    ["128kib", 131_072],
    ["4KiB", 4_096],
    ["10MB", 10_000_000],
    ["1MiB", 1_048_576],
    ["1GB", 1_000_000_000],
    ["1GiB", 1_073_741_824],
    ["1TiB", 1_099_511_627_776],
    ["1.5KiB", 1_536],
    ["1 KiB", 1_024],
    [" 2kb ", 2_000],
  ];
  for (const [text, expectedBytes] of cases) {
    await t.step(`${JSON.stringify(text)} is ${expectedBytes} bytes`, () => {
      assert.equal(parseSizeBytes(text), expectedBytes);
    });
  }
});

Deno.test("parseSizeBytes() rejects text that is not a size", async (t) => {
  const cases = ["", "KiB", "-1", "-1KiB", "10XB", "10 M B", "1e3", "ten", "1KiB2", "99999999PiB"];
  for (const text of cases) {
    await t.step(`${JSON.stringify(text)} is undefined`, () => {
      assert.equal(parseSizeBytes(text), undefined);
    });
  }
});

Deno.test("parseSizeBytes() rejects sizes beyond the safe integer range", () => {
  assert.equal(parseSizeBytes("8000TiB"), 8000 * 1_099_511_627_776);
  assert.equal(parseSizeBytes("9000000TiB"), undefined);
});

Deno.test("formatDurationMs() picks the largest whole unit", async (t) => {
  const cases: [number, string][] = [
    [0, "0"],
    [250, "250ms"],
    [1_500, "1500ms"],
    [1_000, "1s"],
    [90_000, "90s"],
    [120_000, "2m"],
    [5_400_000, "90m"],
    [3_600_000, "1h"],
    [86_400_000, "1d"],
    [172_800_000, "2d"],
  ];
  for (const [durationMs, expected] of cases) {
    await t.step(`${durationMs} ms is ${JSON.stringify(expected)}`, () => {
      assert.equal(formatDurationMs(durationMs), expected);
    });
  }
});

Deno.test("formatDurationMs() output parses back to the same number of milliseconds", async (t) => {
  const values = [
    0,
    1,
    999,
    1_000,
    1_001,
    59_999,
    60_000,
    61_000,
    3_599_999,
    3_600_000,
    90_061_001,
  ];
  for (const durationMs of values) {
    await t.step(`${durationMs} ms round-trips`, () => {
      assert.equal(parseDurationMs(formatDurationMs(durationMs)), durationMs);
    });
  }
  await t.step("every documented duration round-trips through its formatted text", () => {
    for (const text of ["90s", "2m", "1h30m", "250ms", "10s", "1h"]) {
      const durationMs = parseDurationMs(text)!;
      assert.equal(parseDurationMs(formatDurationMs(durationMs)), durationMs, text);
    }
  });
});
