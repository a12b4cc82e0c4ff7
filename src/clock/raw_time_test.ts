/**
 * Holds the one-clock rule: no source file under src/ reads `Date.now()` or
 * `performance.now()`, or schedules with the global `setTimeout`/`setInterval` or
 * `AbortSignal.timeout`, but the system clock itself and the few files that must run on real
 * time, each with its reason.
 *
 * @module
 */

import assert from "node:assert/strict";

const SRC = new URL("../", import.meta.url).pathname;

/** Files allowed to read real time, and why. */
const REAL_TIME: Readonly<Record<string, string>> = {
  "clock/mod.ts": "SYSTEM_CLOCK is the real clock",
  "policy/sandbox.ts": "runs inside the sandbox Worker, where no Clock can be passed",
  "policy/_worker.ts": "the sandbox Worker's entry (durations, a compaction timer): no Clock there",
  "policy/sandbox_host.ts":
    "a load's duration, as the sandbox measures its calls: the same real time V8's termination runs on",
  "host/yamux_window_updates.ts":
    "compares with @libp2p/yamux's own epochStart, which yamux sets from Date.now()",
  "host/yamux_syn.ts":
    "setTimeout(0) defers to the next task (yamux's own frame timing), not a wait",
};

// A global timer call (not a method such as clock.setTimeout), or a raw reading.
const RAW_TIME =
  /(?<![.\w#])(setTimeout|setInterval)\(|Date\.now\(\)|performance\.now\(\)|AbortSignal\.timeout\(/;

/** The .ts files under `dir`, relative to src/. */
async function* sources(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${SRC}${dir}`)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) yield* sources(`${path}/`);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

/** The raw time reads of the source files under src/, outside comments, as "file:line: text". */
async function rawTimeReads(): Promise<string[]> {
  const found: string[] = [];
  for await (const file of sources("")) {
    if (file.endsWith("_test.ts")) continue;
    const lines = (await Deno.readTextFile(`${SRC}${file}`)).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
      if (RAW_TIME.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

Deno.test("src/ reads time only through the injected Clock, but where real time is the point", async () => {
  const found = await rawTimeReads();
  const stray = found.filter((at) => !(at.slice(0, at.indexOf(":")) in REAL_TIME));
  assert.deepEqual(stray, [], "use the component's Clock (src/clock/mod.ts)");
  // Every exception is still needed: one that no longer reads real time leaves the list.
  for (const file of Object.keys(REAL_TIME)) {
    assert.ok(found.some((at) => at.startsWith(`${file}:`)), `${file} reads no real time now`);
  }
});
