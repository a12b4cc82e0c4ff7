import assert from "node:assert/strict";
import { runGuarded } from "./run_guarded.ts";
import { Sandbox } from "./sandbox.ts";

const LIMITS = {
  memoryLimitBytes: 256 * 1024 * 1024,
  stackLimitBytes: 512 * 1024,
  deadlineMs: 50,
  outputMaxChars: 1024 * 1024,
};

// `(func (export "spin") (loop (br 0)))`: WebAssembly that never returns.
const SPIN = new Uint8Array([
  0,
  97,
  115,
  109,
  1,
  0,
  0,
  0,
  1,
  4,
  1,
  96,
  0,
  0,
  3,
  2,
  1,
  0,
  7,
  8,
  1,
  4,
  115,
  112,
  105,
  110,
  0,
  0,
  10,
  9,
  1,
  7,
  0,
  3,
  64,
  12,
  0,
  11,
  11,
]);

Deno.test("runGuarded() answers a run that finishes, and throws on what it throws", () => {
  assert.deepEqual(runGuarded(() => 6 * 7, 1_000), { ok: true, value: 42 });
  assert.throws(() =>
    runGuarded(() => {
      throw new TypeError("boom");
    }, 1_000), TypeError);
  assert.throws(() => runGuarded(() => 1, 0), RangeError);
});

Deno.test("runGuarded() stops WebAssembly that never returns, and the thread goes on", async () => {
  const { spin } = new WebAssembly.Instance(new WebAssembly.Module(SPIN)).exports as {
    spin: () => void;
  };
  const started = performance.now();
  assert.deepEqual(runGuarded(spin, 50), { ok: false });
  assert.ok(performance.now() - started >= 50, "stopped before its limit");
  // Nothing of the termination is left pending: timers, promises and later runs all work.
  await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(runGuarded(() => "after", 1_000), { ok: true, value: "after" });
});

// Loops inside QuickJS's own C code (QuickJS 2025-09-13, as quickjs-emscripten 0.32 builds it)
// that never poll its interrupt: the sandbox's deadline cannot stop them, only the guard can.
// A regexp's backtracking and a default sort do poll it (sandbox_test.ts covers the deadline).
const NATIVE_HANGS = {
  "Array.prototype.join of a sparse array of 2^31 holes": `Array(2 ** 31).join("").length`,
  "Array.prototype.indexOf over an array-like of length 2^53 - 1":
    `Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, 1)`,
};

Deno.test("runGuarded() stops a sandbox stuck in a native built-in its deadline cannot interrupt", async (t) => {
  for (const [name, expression] of Object.entries(NATIVE_HANGS)) {
    await t.step(name, async () => {
      const source = `export function evaluate() { return ${expression}; }`;
      const sandbox = await Sandbox.create("hang.js", source, LIMITS);
      assert.ok(sandbox instanceof Sandbox);
      const started = performance.now();
      const run = runGuarded(() =>
        sandbox.call({
          fn: "evaluate",
          argsJson: "[{}]",
          stateJson: "{}",
          nowMs: 0,
          seed: 1,
          history: "own",
        }), 20 * LIMITS.deadlineMs);
      // Still running at 20 times its deadline: the interrupt never fired.
      assert.deepEqual(run, { ok: false });
      assert.ok(performance.now() - started >= 20 * LIMITS.deadlineMs);
      // Abandoned, never disposed: its heap may be half-updated.
    });
  }
});
