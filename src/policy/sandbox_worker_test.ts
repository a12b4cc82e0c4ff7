import assert from "node:assert/strict";
import { SandboxWorker } from "./sandbox_worker.ts";

const LIMITS = { memoryLimitBytes: 256 * 1024 * 1024, stackLimitBytes: 512 * 1024, deadlineMs: 50 };
const OK_POLICY = `export function evaluate(s) { return { verdict: "healthy", tick: s.tick }; }`;
// Sorting millions of characters runs inside a native built-in, where QuickJS's interrupt
// never fires: only killing the worker stops it.
const NATIVE_HANG =
  `export function evaluate() { return "x".repeat(1 << 22).split("").sort().join("").length; }`;

function call(worker: SandboxWorker, name: string, tick = 1) {
  return worker.call({
    name,
    fn: "evaluate",
    argsJson: JSON.stringify([{ tick }]),
    stateJson: "{}",
    nowMs: 0,
    seed: 1,
  }, LIMITS.deadlineMs);
}

Deno.test("SandboxWorker kills a worker hung in a native built-in and restores the others", async () => {
  const restarts: string[] = [];
  const worker = new SandboxWorker({ graceMs: 150, onRestart: (reason) => restarts.push(reason) });
  try {
    assert.ok((await worker.load("ok", "ok.js", OK_POLICY, LIMITS)).ok);
    assert.ok((await worker.load("hang", "hang.js", NATIVE_HANG, LIMITS)).ok);
    const started = performance.now();
    const hung = await call(worker, "hang");
    const elapsed = performance.now() - started;
    assert.ok(!hung.ok);
    assert.equal(hung.kind, "killed");
    assert.ok(elapsed < 2_000, `killed after ${elapsed} ms`);
    assert.equal(worker.restarts, 1);
    assert.match(restarts[0]!, /hang\.evaluate\(\) ran past 200 ms/);
    // A fresh worker got every module back.
    const after = await call(worker, "ok", 7);
    assert.ok(after.ok);
    assert.deepEqual(after.result, { verdict: "healthy", tick: 7 });
  } finally {
    worker.close();
  }
});

Deno.test("SandboxWorker keeps the loaded module when a new load fails", async () => {
  const worker = new SandboxWorker();
  try {
    assert.ok((await worker.load("p", "p.js", OK_POLICY, LIMITS)).ok);
    const bad = await worker.load("p", "p.js", "export function evaluate( {", LIMITS);
    assert.ok(!bad.ok);
    assert.equal(bad.kind, "compile");
    const still = await call(worker, "p", 3);
    assert.ok(still.ok);
    assert.deepEqual(still.result, { verdict: "healthy", tick: 3 });
  } finally {
    worker.close();
  }
});

Deno.test("SandboxWorker answers calls after close as killed, without hanging", async () => {
  const worker = new SandboxWorker();
  assert.ok((await worker.load("p", "p.js", OK_POLICY, LIMITS)).ok);
  worker.close();
  const outcome = await call(worker, "p");
  assert.ok(!outcome.ok);
});

Deno.test("SandboxWorker seeds a sandbox loaded later with the history, once per snapshot", async () => {
  const worker = new SandboxWorker();
  const history = `export function evaluate(s, ctx) { return ctx.history().map((h) => h.tick); }`;
  try {
    await worker.pushHistory(JSON.stringify({ tick: 1 }), 60); // starts the worker
    await worker.pushHistory(JSON.stringify({ tick: 2 }), 60);
    assert.ok((await worker.load("h", "h.js", history, LIMITS)).ok);
    const outcome = await call(worker, "h", 3);
    assert.ok(outcome.ok);
    assert.deepEqual(outcome.result, [2, 1]);
  } finally {
    worker.close();
  }
});
