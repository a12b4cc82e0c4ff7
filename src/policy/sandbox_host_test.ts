import assert from "node:assert/strict";
import { SandboxHost } from "./sandbox_host.ts";

const LIMITS = {
  memoryLimitBytes: 64 * 1024 * 1024,
  stackLimitBytes: 512 * 1024,
  deadlineMs: 50,
  outputMaxChars: 1024 * 1024,
};
const GRACE_MS = 100;
const HARD_MS = LIMITS.deadlineMs + GRACE_MS;
const OK_POLICY = `export function evaluate(s) { return { verdict: "healthy", tick: s.tick }; }`;
// Joining 2^31 holes runs inside one native built-in, where QuickJS's interrupt never fires
// (run_guarded_test.ts): only the host's hard limit stops it.
const NATIVE_HANG = `export function evaluate(s) {
  return s.tick > 1 ? Array(2 ** 31).join("").length : { verdict: "healthy", tick: s.tick };
}`;

function call(host: SandboxHost, name: string, tick: number) {
  return host.call({
    name,
    fn: "evaluate",
    argsJson: JSON.stringify([{ tick }]),
    stateJson: "{}",
    nowMs: 0,
    seed: 1,
  }, LIMITS.deadlineMs);
}

Deno.test("SandboxHost kills a call hung in a native built-in at its hard limit, loads it again and keeps the others", async () => {
  const restarts: string[] = [];
  const host = new SandboxHost({ graceMs: GRACE_MS, onRestart: (r) => restarts.push(r) });
  try {
    for (const [name, source] of [["ok", OK_POLICY], ["hang", NATIVE_HANG]]) {
      assert.ok(
        (await host.load({ name: name!, fileName: `${name}.js`, source: source!, limits: LIMITS }))
          .ok,
      );
    }
    assert.deepEqual((await call(host, "hang", 1)).ok, true);
    const started = performance.now();
    const hung = await call(host, "hang", 2);
    const tookMs = performance.now() - started;
    assert.ok(!hung.ok);
    assert.equal(hung.kind, "killed");
    assert.ok(tookMs >= HARD_MS, `answered after ${tookMs} ms, before its hard limit`);
    assert.equal(host.restarts, 1);
    assert.match(restarts[0]!, /hang\.evaluate\(\) ran past 150 ms/);
    // The others were never touched, and the killed one was loaded again from its source.
    const other = await call(host, "ok", 7);
    assert.ok(other.ok);
    assert.deepEqual(other.result, { verdict: "healthy", tick: 7 });
    const again = await call(host, "hang", 1);
    assert.ok(again.ok);
    assert.deepEqual(again.result, { verdict: "healthy", tick: 1 });
  } finally {
    host.close();
  }
});

Deno.test("SandboxHost kills a module whose top level hangs in a native built-in", async () => {
  const host = new SandboxHost({ graceMs: GRACE_MS });
  try {
    const loaded = await host.load({
      name: "top",
      fileName: "top.js",
      source: `const n = Array(2 ** 31).join("").length; export function evaluate() { return n; }`,
      limits: LIMITS,
    });
    assert.ok(!loaded.ok);
    assert.equal(loaded.kind, "killed");
    assert.equal(host.restarts, 1);
    assert.equal((await call(host, "top", 1)).ok, false);
  } finally {
    host.close();
  }
});

Deno.test("SandboxHost answers requests after close as killed, without hanging", async () => {
  const host = new SandboxHost({ graceMs: GRACE_MS });
  assert.ok(
    (await host.load({ name: "p", fileName: "p.js", source: OK_POLICY, limits: LIMITS })).ok,
  );
  host.close();
  const after = await call(host, "p", 1);
  assert.ok(!after.ok);
  assert.equal(after.kind, "killed");
});
