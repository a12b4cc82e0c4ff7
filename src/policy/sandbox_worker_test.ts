import assert from "node:assert/strict";
import { ManualClock, type TimerId } from "../clock/mod.ts";
import { defaultConfig } from "../config/mod.ts";
import { SandboxWorker } from "./sandbox_worker.ts";

const LIMITS = {
  memoryLimitBytes: 256 * 1024 * 1024,
  stackLimitBytes: 512 * 1024,
  deadlineMs: 50,
  outputMaxChars: 1024 * 1024,
};
/** `policy.kill_grace` as hopd ships it. */
const GRACE_MS = defaultConfig().policy.killGraceMs;
const OK_POLICY = `export function evaluate(s) { return { verdict: "healthy", tick: s.tick }; }`;
// Sorting millions of characters runs inside a native built-in, where QuickJS's interrupt
// never fires: only killing the worker stops it.
const NATIVE_HANG =
  `export function evaluate() { return "x".repeat(1 << 22).split("").sort().join("").length; }`;

/** `deadlineMs` + the grace these tests give: when the watchdog kills. */
const HARD_MS = LIMITS.deadlineMs + 150;

/** A ManualClock that tells when a timer is set: the watchdog started timing a request. */
class WatchedClock extends ManualClock {
  readonly #waiters: { delayMs: number; resolve: () => void }[] = [];

  /** Resolves when the next timer of `delayMs` is set. */
  armed(delayMs: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ delayMs, resolve });
    return promise;
  }

  override setTimeout(callback: () => void, delayMs: number): TimerId {
    const id = super.setTimeout(callback, delayMs);
    const at = this.#waiters.findIndex((w) => w.delayMs === delayMs);
    if (at >= 0) this.#waiters.splice(at, 1)[0]!.resolve();
    return id;
  }
}

/** Waits until the watchdog times `call`; fails if the call is answered first. */
async function timed(armed: Promise<void>, call: Promise<unknown>): Promise<void> {
  await Promise.race([
    armed,
    call.then(() => {
      throw new Error("answered before the watchdog timed it on the injected clock");
    }),
  ]);
}

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

Deno.test("SandboxWorker kills a worker hung in a native built-in at its hard limit on the clock, and restores the others", async () => {
  const restarts: string[] = [];
  const clock = new WatchedClock();
  const worker = new SandboxWorker({
    graceMs: 150,
    onRestart: (reason) => restarts.push(reason),
    clock,
  });
  try {
    assert.ok(
      (await worker.load({ name: "ok", fileName: "ok.js", source: OK_POLICY, limits: LIMITS })).ok,
    );
    assert.ok(
      (await worker.load({
        name: "hang",
        fileName: "hang.js",
        source: NATIVE_HANG,
        limits: LIMITS,
      })).ok,
    );
    const armed = clock.armed(HARD_MS);
    const hanging = call(worker, "hang");
    await timed(armed, hanging);
    clock.advance(HARD_MS - 1);
    assert.equal(worker.restarts, 0, "killed before its hard limit");
    clock.advance(1);
    assert.equal(worker.restarts, 1);
    const hung = await hanging;
    assert.ok(!hung.ok);
    assert.equal(hung.kind, "killed");
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
  const worker = new SandboxWorker({ graceMs: GRACE_MS });
  try {
    assert.ok(
      (await worker.load({ name: "p", fileName: "p.js", source: OK_POLICY, limits: LIMITS })).ok,
    );
    const bad = await worker.load({
      name: "p",
      fileName: "p.js",
      source: "export function evaluate( {",
      limits: LIMITS,
    });
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
  const worker = new SandboxWorker({ graceMs: GRACE_MS });
  assert.ok(
    (await worker.load({ name: "p", fileName: "p.js", source: OK_POLICY, limits: LIMITS })).ok,
  );
  worker.close();
  const outcome = await call(worker, "p");
  assert.ok(!outcome.ok);
});

Deno.test("SandboxWorker seeds a sandbox loaded later with the history, once per snapshot", async () => {
  const worker = new SandboxWorker({ graceMs: GRACE_MS });
  const history = `export function evaluate(s, ctx) { return ctx.history().map((h) => h.tick); }`;
  try {
    await worker.pushHistory(JSON.stringify({ tick: 1 }), 60); // starts the worker
    await worker.pushHistory(JSON.stringify({ tick: 2 }), 60);
    assert.ok(
      (await worker.load({ name: "h", fileName: "h.js", source: history, limits: LIMITS })).ok,
    );
    const outcome = await call(worker, "h", 3);
    assert.ok(outcome.ok);
    assert.deepEqual(outcome.result, [2, 1]);
  } finally {
    worker.close();
  }
});

// Issue 15, item 8: a kill is blamed on the request that hung the worker, never on one that
// waited behind it (that policy then counted a kill and was quarantined after three).
Deno.test("SandboxWorker blames a kill on the hung request only and runs the queued ones", async () => {
  const restarts: string[] = [];
  const clock = new WatchedClock();
  const worker = new SandboxWorker({
    graceMs: 150,
    onRestart: (reason) => restarts.push(reason),
    clock,
  });
  try {
    assert.ok(
      (await worker.load({ name: "ok", fileName: "ok.js", source: OK_POLICY, limits: LIMITS })).ok,
    );
    assert.ok(
      (await worker.load({
        name: "hang",
        fileName: "hang.js",
        source: NATIVE_HANG,
        limits: LIMITS,
      })).ok,
    );
    const armed = clock.armed(HARD_MS);
    const all = Promise.all([
      call(worker, "hang"),
      call(worker, "ok", 5),
      worker.load({ name: "late", fileName: "late.js", source: OK_POLICY, limits: LIMITS }),
    ]);
    await timed(armed, all);
    clock.advance(HARD_MS);
    const [hung, queuedCall, queuedLoad] = await all;
    assert.ok(!hung.ok);
    assert.equal(hung.kind, "killed");
    assert.ok(queuedCall.ok, queuedCall.ok ? "" : queuedCall.message);
    assert.deepEqual(queuedCall.result, { verdict: "healthy", tick: 5 });
    assert.ok(queuedLoad.ok, queuedLoad.ok ? "" : queuedLoad.message);
    assert.equal(restarts.length, 1);
    assert.match(restarts[0]!, /hang\.evaluate\(\)/);
    const late = await call(worker, "late", 6);
    assert.ok(late.ok);
  } finally {
    worker.close();
  }
});

Deno.test("SandboxWorker keeps a sandbox that fakes an out-of-memory error (no rebuild)", async () => {
  const worker = new SandboxWorker({ graceMs: GRACE_MS });
  const faker = `let calls = 0;
    export function evaluate() {
      calls++;
      if (calls < 3) throw { name: "InternalError", message: "out of memory" };
      return calls;
    }`;
  try {
    assert.ok(
      (await worker.load({ name: "f", fileName: "f.js", source: faker, limits: LIMITS })).ok,
    );
    for (const expected of ["runtime", "runtime"]) {
      const outcome = await call(worker, "f");
      assert.ok(!outcome.ok);
      assert.equal(outcome.kind, expected);
    }
    // A rebuilt sandbox would have counted from 0 again.
    const third = await call(worker, "f");
    assert.ok(third.ok);
    assert.equal(third.result, 3);
  } finally {
    worker.close();
  }
});
