import assert from "node:assert/strict";
import { getHeapSpaceStatistics } from "node:v8";
import { compactHeap } from "./mod.ts";

function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_size;
}

Deno.test("compactHeap() shrinks a young generation that start-up garbage grew", () => {
  // Objects that survive a few scavenges make V8 grow the semi-spaces, as a start does.
  let kept: unknown[] = [];
  for (let round = 0; round < 20 && newSpaceBytes() < 8 * 1024 * 1024; round++) {
    for (let i = 0; i < 100_000; i++) kept.push({ i, text: `item ${i}`, list: [i, i + 1] });
    if (kept.length > 400_000) kept = [];
  }
  const grown = newSpaceBytes();
  assert.ok(grown >= 8 * 1024 * 1024, `new space grew to ${grown} bytes`);
  kept = [];
  assert.equal(compactHeap(), true, "this Deno gives hopd a way to collect");
  const after = newSpaceBytes();
  assert.ok(after <= grown / 4, `new space ${grown} → ${after} bytes`);
  assert.equal(kept.length, 0);
});

Deno.test("compactHeap() leaves no gc() on the global of contexts made later", async () => {
  assert.equal(compactHeap(), true);
  const { runInNewContext } = await import("node:vm");
  assert.equal(runInNewContext("typeof gc"), "undefined");
});

/**
 * Runs `body` in a fresh Deno process importing this module (as `mod`), launched with or
 * without Deno's trim switch, and returns what it printed as JSON.
 */
async function inProcess(body: string, trimSwitch: boolean): Promise<Record<string, unknown>> {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import * as mod from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};\n` +
        `const anonMb = () => Number(/RssAnon:\\s+(\\d+)/.exec(` +
        `Deno.readTextFileSync("/proc/self/status"))![1]) / 1024;\n${body}`,
    );
    const env: Record<string, string> = {};
    for (const key of ["HOME", "PATH", "DENO_DIR"]) {
      const value = Deno.env.get(key);
      if (value !== undefined) env[key] = value;
    }
    if (trimSwitch) env.DENO_USR2_MEMORY_TRIM = "1";
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", script],
      clearEnv: true,
      env,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.equal(output.code, 0, `the process ended with ${output.code} (${output.signal})`);
    return JSON.parse(new TextDecoder().decode(output.stdout));
  } finally {
    await Deno.remove(script);
  }
}

// 60 MiB in 16 KiB buffers, one in 16 kept: freed, they stay in malloc's arena as holes
// that free() alone never gives back. The process waits on two events, never on time:
// - Deno installs its SIGUSR2 handler from a task of its runtime, which may run after this
//   module began (a signal sent before it ends the process): the body yields turns of the
//   event loop until /proc/self/status shows SIGUSR2 caught (SigCgt, bit 12).
// - Deno's trim runs malloc_trim(0), then a low-memory notification (a full collection) in
//   every isolate: a sentinel that compactHeap() moved to the old generation, which only a
//   full collection frees, has its finalizer run once the trim is done. The 10 s bound only
//   ends a process whose trim never comes (then "trimmed" is false).
const FRAGMENT = `
const catchesSigusr2 = () =>
  ((BigInt("0x" + /SigCgt:\\s+([0-9a-f]+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) >> 11n) & 1n) === 1n;
if (Deno.env.get(mod.MEMORY_TRIM_ENV)) {
  while (!catchesSigusr2()) await new Promise((resolve) => setTimeout(resolve, 0));
}
let freed: Uint8Array[] = [];
const kept: Uint8Array[] = [];
for (let i = 0; i < 4000; i++) (i % 16 === 0 ? kept : freed).push(new Uint8Array(16384).fill(1));
freed = [];
let sentinel: object | undefined = {};
mod.compactHeap();
const before = anonMb();
let bound = 0;
let registry: FinalizationRegistry<null> | undefined;
const trimmed = new Promise<boolean>((resolve) => {
  registry = new FinalizationRegistry(() => resolve(true));
  registry.register(sentinel!, null);
  bound = setTimeout(() => resolve(false), 10_000);
});
sentinel = undefined;
const asked = mod.trimMemory();
const done = asked ? await trimmed : false;
clearTimeout(bound);
console.log(JSON.stringify({ asked, trimmed: done, before, after: anonMb(), kept: kept.length, registry: registry !== undefined }));
`;

Deno.test("trimMemory() gives the freed native memory back when Deno's trim switch is set", async () => {
  const { asked, trimmed, before, after } = await inProcess(FRAGMENT, true);
  assert.equal(asked, true);
  assert.equal(trimmed, true, "the trim's full collection ran");
  // 56 MiB freed in holes: most of it leaves the process.
  assert.ok((before as number) - (after as number) >= 30, `RssAnon ${before} → ${after} MB`);
});

Deno.test("trimMemory() sends nothing without the switch (a SIGUSR2 would end the process)", async () => {
  const { asked } = await inProcess(FRAGMENT, false);
  assert.equal(asked, false);
});
