import assert from "node:assert/strict";
import { type CallInput, Sandbox, type SandboxLimits } from "./sandbox.ts";

const LIMITS: SandboxLimits = {
  memoryLimitBytes: 24 * 1024 * 1024,
  stackLimitBytes: 256 * 1024,
  deadlineMs: 50,
};

function input(fn = "evaluate", args: unknown[] = [{}], extra: Partial<CallInput> = {}): CallInput {
  return {
    fn,
    argsJson: JSON.stringify(args),
    stateJson: "{}",
    nowMs: 1_700_000_000_000,
    seed: 42,
    history: () => "[]",
    ...extra,
  };
}

async function sandbox(source: string, limits = LIMITS): Promise<Sandbox> {
  const created = await Sandbox.create("test.js", source, limits);
  if (!(created instanceof Sandbox)) throw new Error(`did not load: ${created.message}`);
  return created;
}

Deno.test("Sandbox runs evaluate() with the host's clock, seeded randomness and state", async () => {
  const sb = await sandbox(`export function evaluate(s, ctx) {
    ctx.state.count = (ctx.state.count ?? 0) + 1;
    console.log("rss", s.rss);
    return { now: Date.now(), date: new Date().getTime(), ctxNow: ctx.now,
      r: [Math.random(), ctx.random()], count: ctx.state.count };
  }`);
  try {
    const first = sb.call(input("evaluate", [{ rss: 5 }], { stateJson: '{"count":41}' }));
    assert.ok(first.ok);
    const result = first.result as Record<string, unknown>;
    assert.equal(result.now, 1_700_000_000_000);
    assert.equal(result.date, 1_700_000_000_000);
    assert.equal(result.ctxNow, 1_700_000_000_000);
    assert.deepEqual(first.state, { count: 42 });
    assert.deepEqual(first.logs, ["rss 5"]);
    // Same seed, same randomness: a recorded evaluation replays exactly.
    const again = sb.call(input("evaluate", [{ rss: 5 }], { stateJson: '{"count":41}' }));
    assert.ok(again.ok);
    assert.deepEqual((again.result as Record<string, unknown>).r, result.r);
    const other = sb.call(input("evaluate", [{}], { seed: 43 }));
    assert.ok(other.ok);
    assert.notDeepEqual((other.result as Record<string, unknown>).r, result.r);
  } finally {
    sb.dispose();
  }
});

Deno.test("Sandbox serves ctx.history(n) from the host, newest first", async () => {
  const sb = await sandbox(`export function evaluate(s, ctx) {
    return ctx.history(2).map((h) => h.tick);
  }`);
  try {
    const outcome = sb.call(input("evaluate", [{}], {
      history: (n) => JSON.stringify([{ tick: 9 }, { tick: 8 }, { tick: 7 }].slice(0, n)),
    }));
    assert.ok(outcome.ok);
    assert.deepEqual(outcome.result, [9, 8]);
  } finally {
    sb.dispose();
  }
});

Deno.test("Sandbox has no host I/O: no Deno, fetch, require, std or os modules", async () => {
  const sb = await sandbox(`export function evaluate() {
    return [typeof Deno, typeof fetch, typeof require, typeof process, typeof std, typeof os,
      typeof setTimeout, typeof XMLHttpRequest, typeof WebAssembly];
  }`);
  try {
    const outcome = sb.call(input());
    assert.ok(outcome.ok);
    for (const t of outcome.result as string[]) assert.equal(t, "undefined");
  } finally {
    sb.dispose();
  }
  for (const specifier of ["os", "std", "node:fs", "./other.js", "https://example.com/x.js"]) {
    const loaded = await Sandbox.create(
      "i.js",
      `import x from "${specifier}"; export const y = x;`,
      LIMITS,
    );
    assert.ok(!(loaded instanceof Sandbox), specifier);
    assert.equal(loaded.kind, "compile");
  }
});

Deno.test("Sandbox stops an infinite loop at its deadline", async () => {
  const sb = await sandbox(`export function evaluate() { for (;;) {} }`);
  try {
    const outcome = sb.call(input());
    assert.ok(!outcome.ok);
    assert.equal(outcome.kind, "timeout");
    assert.ok(outcome.durationMs >= LIMITS.deadlineMs, `${outcome.durationMs}`);
    // The sandbox is still usable after an interrupt.
    const again = sb.call(input());
    assert.ok(!again.ok);
    assert.equal(again.kind, "timeout");
  } finally {
    sb.dispose();
  }
});

Deno.test("Sandbox stops memory bombs at its memory cap", async (t) => {
  const bombs = {
    "many small objects": `const a = []; for (let i = 0;; i++) a.push({ i, s: "abc" + i });`,
    "growing arrays":
      `const a = []; for (let i = 0; i < 100; i++) a.push(new Array(2e6).fill(1.5));`,
    "big strings": `const a = []; for (let i = 0; i < 100; i++) a.push("x".repeat(16e6));`,
    "array buffers": `const a = []; for (let i = 0; i < 100; i++) a.push(new ArrayBuffer(16e6));`,
  };
  for (const [name, body] of Object.entries(bombs)) {
    await t.step(name, async () => {
      const limits = { ...LIMITS, memoryLimitBytes: 32 * 1024 * 1024, deadlineMs: 10_000 };
      const sb = await sandbox(`export function evaluate() { ${body} return 1; }`, limits);
      try {
        const outcome = sb.call(input());
        assert.ok(!outcome.ok);
        assert.equal(outcome.kind, "memory");
      } finally {
        sb.dispose();
      }
    });
  }
});

Deno.test("Sandbox reports errors by kind", async (t) => {
  await t.step("a syntax error is a compile error naming the place", async () => {
    const loaded = await Sandbox.create("bad.js", "export function evaluate( {", LIMITS);
    assert.ok(!(loaded instanceof Sandbox));
    assert.equal(loaded.kind, "compile");
    assert.match(loaded.message, /SyntaxError.*bad\.js:1/);
  });
  await t.step("a top-level infinite loop is stopped at the deadline", async () => {
    const loaded = await Sandbox.create("loop.js", "for (;;) {} export const x = 1;", LIMITS);
    assert.ok(!(loaded instanceof Sandbox));
    assert.equal(loaded.kind, "timeout");
  });
  await t.step("top-level await is refused", async () => {
    const loaded = await Sandbox.create("tla.js", "await new Promise(() => {});", LIMITS);
    assert.ok(!(loaded instanceof Sandbox));
    assert.match(loaded.message, /top-level await/);
  });
  await t.step("a throw, deep recursion and async evaluate are runtime errors", async () => {
    const sb = await sandbox(`
      export function throws() { throw new RangeError("nope"); }
      export function deep() { return deep() + 1; }
      export async function later() { return 1; }`);
    try {
      for (
        const [fn, pattern] of [["throws", /RangeError: nope/], ["deep", /stack overflow/], [
          "later",
          /must be synchronous/,
        ]] as const
      ) {
        const outcome = sb.call(input(fn));
        assert.ok(!outcome.ok, fn);
        assert.equal(outcome.kind, "runtime", fn);
        assert.match(outcome.message, pattern);
      }
      assert.deepEqual([...sb.exports].sort(), ["deep", "later", "throws"]);
    } finally {
      sb.dispose();
    }
  });
});

Deno.test("Sandbox keeps its own frozen history of the snapshots it judged", async () => {
  const sb = await sandbox(`export function evaluate(s, ctx) {
    let mutated = false;
    try { s.tick = 99; mutated = true; } catch { /* frozen */ }
    return { seen: ctx.history(5).map((h) => h.tick), all: ctx.history().length, mutated };
  }`);
  try {
    sb.seedHistory(JSON.stringify([{ tick: 2 }, { tick: 1 }]), 3);
    const results = [3, 4, 5].map((tick) => {
      const outcome = sb.call(input("evaluate", [{ tick }], { history: "own" }));
      assert.ok(outcome.ok);
      return outcome.result;
    });
    assert.deepEqual(results, [
      { seen: [2, 1], all: 2, mutated: false },
      { seen: [3, 2, 1], all: 3, mutated: false },
      { seen: [4, 3, 2], all: 3, mutated: false }, // the ring keeps 3
    ]);
  } finally {
    sb.dispose();
  }
});
