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

/** How much of the 58.6 MiB freed in holes the trim must give back, in MB. */
const TRIM_DROP_MB = 30;

// 62.5 MiB malloc'd in 16 KiB blocks (libc's, through FFI), one in 16 kept: freed, they stay
// in malloc's main arena as holes that free() alone never gives back, and no garbage
// collection has to run first. The process waits on events, never on time:
// - Deno installs its SIGUSR2 handler from a task of its runtime, which may run after this
//   module began (a signal sent before it ends the process): the body yields turns of the
//   event loop until /proc/self/status shows SIGUSR2 caught (SigCgt, bit 12).
// - Deno's trim runs malloc_trim(0), then a low-memory notification (a full collection) in
//   every isolate. A finalizer sees a collection, but not which: V8 collects on its own too,
//   and one that came before the trim's had a single wait read RssAnon before malloc_trim ran
//   (74.5 → 74 MB, once at high load). So RssAnon is read again after each collection until
//   it is down; the 10 s bound only ends a process whose trim never comes.
const FRAGMENT = `
const catchesSigusr2 = () =>
  ((BigInt("0x" + /SigCgt:\\s+([0-9a-f]+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]) >> 11n) & 1n) === 1n;
if (Deno.env.get(mod.MEMORY_TRIM_ENV)) {
  while (!catchesSigusr2()) await new Promise((resolve) => setTimeout(resolve, 0));
}
const libc = Deno.dlopen("libc.so.6", {
  malloc: { parameters: ["usize"], result: "pointer" },
  memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
  free: { parameters: ["pointer"], result: "void" },
}).symbols;
const blocks: Deno.PointerValue[] = [];
for (let i = 0; i < 4000; i++) blocks.push(libc.memset(libc.malloc(16384n), 1, 16384n));
for (let i = 0; i < 4000; i++) if (i % 16 !== 0) libc.free(blocks[i]);
const before = anonMb();
const collected = new FinalizationRegistry<() => void>((resolve) => resolve());
const nextCollection = () => new Promise<void>((resolve) => collected.register({}, resolve));
let bounded = false;
let timer = 0;
const bound = new Promise<void>((resolve) => {
  timer = setTimeout(() => {
    bounded = true;
    resolve();
  }, 10_000);
});
const asked = mod.trimMemory();
let collections = 0;
while (asked && !bounded && before - anonMb() < ${TRIM_DROP_MB}) {
  await Promise.race([nextCollection(), bound]);
  if (!bounded) collections++;
}
clearTimeout(timer);
console.log(JSON.stringify({ asked, before, after: anonMb(), collections, bounded }));
`;

Deno.test("trimMemory() gives the freed native memory back when Deno's trim switch is set", async () => {
  const { asked, before, after, collections, bounded } = await inProcess(FRAGMENT, true);
  assert.equal(asked, true);
  assert.ok(
    (before as number) - (after as number) >= TRIM_DROP_MB,
    `RssAnon ${before} → ${after} MB after ${collections} collections` +
      (bounded ? " and 10 s: no trim" : ""),
  );
});

Deno.test("trimMemory() sends nothing without the switch (a SIGUSR2 would end the process)", async () => {
  const { asked } = await inProcess(FRAGMENT, false);
  assert.equal(asked, false);
});
