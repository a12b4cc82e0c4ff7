import assert from "node:assert/strict";
import { join } from "node:path";
import { MetricsRegistry } from "../metrics/mod.ts";
import { HookRunner, unrunnableHooks } from "./hook_runner.ts";
import { PolicyMetrics } from "./metrics.ts";

async function runs(registry: MetricsRegistry): Promise<Record<string, number>> {
  const values = await registry.values("hopd_policy_hook_runs_total");
  return Object.fromEntries(
    values.map((v) => [`${v.labels.hook}:${v.labels.result}`, v.value]),
  );
}

// Issue 15, item 6: every hook failed with "Requires run access" in production while
// hopd_policy_actions_total{action="runHook",outcome="executed"} counted it.
Deno.test("HookRunner runs a permitted hook, and fails at once (counted) when it may not run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopd hooks " }); // a space in the path
  try {
    const script = join(dir, "hook script.sh");
    await Deno.writeTextFile(script, `#!/bin/sh\necho "$HOPD_POLICY $1" > "${dir}/ran"\nexit $2\n`);
    await Deno.chmod(script, 0o755);
    const registry = new MetricsRegistry();
    const allowed = new Set([script]);
    const runner = new HookRunner({
      hooks: {
        ok: [script, "first arg", "0"],
        fails: [script, "x", "3"],
        denied: ["/usr/bin/id"],
        missing: [join(dir, "nope")],
      },
      timeoutMs: 10_000,
      metrics: new PolicyMetrics(registry),
      permitted: (command) => allowed.has(command) || command.endsWith("nope"),
    });
    assert.equal(await runner.run("ok", { HOPD_POLICY: "p" }), 0);
    assert.equal(await Deno.readTextFile(join(dir, "ran")), "p first arg\n");
    assert.equal(await runner.run("fails", {}), 3);
    assert.throws(() => runner.run("denied", {}), /no run permission for \/usr\/bin\/id/);
    assert.throws(() => runner.run("missing", {}), /could not start/);
    assert.deepEqual(await runs(registry), {
      "ok:ok": 1,
      "fails:failed": 1,
      "denied:not_permitted": 1,
      "missing:spawn_error": 1,
    });
    assert.deepEqual(
      unrunnableHooks({ ok: [script], denied: ["/usr/bin/id"] }, (c) => allowed.has(c)),
      [
        "hook 'denied' cannot run: this hopd has no run permission for /usr/bin/id " +
        "(build it with scripts/compile.sh --hooks-config FILE, or give deno --allow-run)",
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
