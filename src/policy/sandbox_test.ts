import assert from "node:assert/strict";
import { type CallInput, quickJSCompiles, Sandbox, type SandboxLimits } from "./sandbox.ts";

const LIMITS: SandboxLimits = {
  memoryLimitBytes: 24 * 1024 * 1024,
  stackLimitBytes: 256 * 1024,
  deadlineMs: 50,
  outputMaxChars: 1024 * 1024,
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

/** For steps that test bounds, not time: a deadline no loaded machine reaches. */
const SLOW: SandboxLimits = { ...LIMITS, deadlineMs: 5_000 };

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

Deno.test("Sandboxes share one compiled QuickJS and nothing else: globals, memory, a bomb", async () => {
  const source = `export function evaluate(s) {
    if (s.bomb) { const a = []; for (;;) a.push("x".repeat(1e6) + a.length); }
    globalThis.mine ??= s.id;
    return { mine: globalThis.mine };
  }`;
  const slow = { ...LIMITS, deadlineMs: 10_000 };
  const [a, b, c] = await Promise.all([sandbox(source, slow), sandbox(source), sandbox(source)]);
  try {
    // One compile for the thread (the first test of the file may have made it already).
    assert.equal(quickJSCompiles(), 1);
    for (const [sb, id] of [[a, "a"], [b, "b"], [c, "c"]] as const) {
      const outcome = sb!.call(input("evaluate", [{ id }]));
      assert.ok(outcome.ok);
      assert.deepEqual(outcome.result, { mine: id });
    }
    const bomb = a!.call(input("evaluate", [{ bomb: true }]));
    assert.ok(!bomb.ok);
    assert.equal(bomb.kind, "memory");
    const after = b!.call(input("evaluate", [{ id: "again" }]));
    assert.ok(after.ok);
    assert.deepEqual(after.result, { mine: "b" });
  } finally {
    for (const sb of [a, b, c]) sb!.dispose();
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

// The hostile policies of issue 15, item 4: a module that rewrites the host's call wrapper
// and the other globals the host once looked up after the module ran.
Deno.test("Sandbox keeps its entry points out of the module's reach", async (t) => {
  const hostile = {
    "a malformed tuple":
      `globalThis.__hopdCall = () => JSON.stringify([{ verdict: "healthy" }, {}, null]);`,
    "3,000 log lines of 2,000 characters": `globalThis.__hopdCall = () => JSON.stringify([
      { verdict: "healthy" }, {}, Array.from({ length: 3000 }, () => "x".repeat(2000))]);`,
    "a non-string answer": `globalThis.__hopdCall = () => 42;`,
  };
  for (const [name, top] of Object.entries(hostile)) {
    await t.step(name, async () => {
      const sb = await sandbox(`${top}
        globalThis.__hopdSeed = () => { throw new Error("seed hijacked"); };
        export function evaluate(s, ctx) { ctx.log("own line"); return { verdict: "degraded" }; }`);
      try {
        sb.seedHistory("[]", 3);
        const outcome = sb.call(input());
        assert.ok(outcome.ok, outcome.ok ? "" : outcome.message);
        assert.deepEqual(outcome.result, { verdict: "degraded" });
        assert.deepEqual(outcome.logs, ["own line"]);
      } finally {
        sb.dispose();
      }
    });
  }
});

Deno.test("Sandbox bounds every output where it enters the host", async (t) => {
  await t.step(
    "logs: at most 20 lines of 1,000 characters, whatever the prelude was made to do",
    async () => {
      const sb = await sandbox(
        `
      String.prototype.slice = function () { return String(this); };
      Array.prototype.push = function (...items) { for (const i of items) this[this.length] = i; return this.length; };
      export function evaluate() {
        const line = "x".repeat(2000);
        for (let i = 0; i < 3000; i++) console.log(line);
        return { verdict: "healthy" };
      }`,
        SLOW,
      );
      try {
        const outcome = sb.call(input());
        assert.ok(outcome.ok, outcome.ok ? "" : outcome.message);
        assert.ok(outcome.logs.length <= 20, `${outcome.logs.length} lines`);
        for (const line of outcome.logs) assert.ok(line.length <= 1_000, `${line.length} chars`);
      } finally {
        sb.dispose();
      }
    },
  );
  await t.step("a result larger than the output cap is refused without being copied", async () => {
    const sb = await sandbox(
      `export function evaluate() {
      return { verdict: "healthy", reasons: ["x".repeat(4e6)] };
    }`,
      SLOW,
    );
    try {
      const outcome = sb.call(input());
      assert.ok(!outcome.ok);
      assert.equal(outcome.kind, "invalid_result");
      assert.ok(outcome.message.length < 1_000, outcome.message.slice(0, 200));
      assert.match(outcome.message, /above the \d+ the host accepts/);
    } finally {
      sb.dispose();
    }
  });
  await t.step("an error message is cut to 1,000 characters", async () => {
    const sb = await sandbox(
      `export function evaluate() { throw new Error("x".repeat(2e5)); }`,
      SLOW,
    );
    try {
      const outcome = sb.call(input());
      assert.ok(!outcome.ok);
      assert.equal(outcome.kind, "runtime");
      assert.ok(outcome.message.length <= 1_200, `${outcome.message.length} chars`);
    } finally {
      sb.dispose();
    }
  });
  await t.step("a thrown value whose getters never return is cut off, not the worker", async () => {
    const sb = await sandbox(`export function evaluate() {
      throw { get name() { for (;;) {} }, get message() { for (;;) {} } };
    }`);
    try {
      const outcome = sb.call(input());
      assert.ok(!outcome.ok);
      assert.equal(outcome.kind, "runtime");
    } finally {
      sb.dispose();
    }
  });
});

// Issue 15, item 8: the kind of a failure comes from what the host saw (a deadline that
// fired, a memory that could not grow), never from what the thrown value says about itself.
Deno.test("Sandbox does not take a faked out-of-memory error for a memory kill", async () => {
  const sb = await sandbox(`
    export function plain() { throw { name: "InternalError", message: "out of memory" }; }
    export function native() { throw new InternalError("out of memory"); }
    export function interrupted() { throw new InternalError("interrupted"); }`);
  try {
    for (const fn of ["plain", "native", "interrupted"]) {
      const outcome = sb.call(input(fn));
      assert.ok(!outcome.ok, fn);
      assert.equal(outcome.kind, "runtime", fn);
    }
  } finally {
    sb.dispose();
  }
});
