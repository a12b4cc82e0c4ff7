// End-to-end runHook under the production permission set (deno.json `permissions.hopd`, the
// one the compiled binary gets): without the run permission a hook fails as a failure (issue
// 15, item 6: it once failed with "Requires run access" while counted as executed); with the
// run permission for exactly the configured command, as scripts/compile.sh --hooks-config
// grants it, it runs, its path with spaces intact. And the compile script embeds exactly that.

import assert from "node:assert/strict";
import { join } from "node:path";
import { childEnv } from "./_helpers/child_env.ts";
import {
  hopdCommand,
  type HopdProcess,
  REPO_ROOT,
  runHopdCli,
  spawnHopd,
} from "./_helpers/hopd_process.ts";
import { metric } from "./_helpers/ops_probe.ts";

interface Rig {
  readonly root: string;
  readonly script: string;
  readonly marker: string;
  readonly config: string;
}

/** A hook script in a directory with a space in its name, a policy asking for it every tick. */
async function rig(): Promise<Rig> {
  const root = await Deno.makeTempDir({ prefix: "hopd-hooks-" });
  const hooks = join(root, "hook scripts");
  const policies = join(root, "policies");
  await Deno.mkdir(hooks);
  await Deno.mkdir(policies);
  const marker = join(root, "ran");
  const script = join(hooks, "mark it.sh");
  await Deno.writeTextFile(script, `#!/bin/sh\necho "$HOPD_POLICY $1" >> "${marker}"\n`);
  await Deno.chmod(script, 0o755);
  await Deno.writeTextFile(
    join(policies, "hook.js"),
    `export function evaluate() {
      return { verdict: "healthy", actions: [{ type: "runHook", name: "mark" }] };
    }`,
  );
  const config = join(root, "hopd.toml");
  await Deno.writeTextFile(
    config,
    `[policy]
dir = ${JSON.stringify(policies)}
plugins_dir = ${JSON.stringify(join(root, "plugins"))}
tick = "200ms"
hysteresis_for = 1
hysteresis_of = 1
cooldown = "0"
hooks = ["mark='${script}' 'an arg'"]
`,
  );
  return { root, script, marker, config };
}

async function runHookDecisions(hopd: HopdProcess) {
  const response = await fetch(`${hopd.opsUrl}/v1/decisions?limit=20&policy=hook`);
  const { decisions } = await response.json() as {
    decisions: {
      actions: { type: string; outcome: string; suppressedBy?: string; error?: string }[];
    }[];
  };
  return decisions.flatMap((d) => d.actions).filter((a) => a.type === "runHook");
}

/** `hopd config check FILE` with deno flags added to the production set. */
async function configCheck(file: string, denoFlags: string[]) {
  const hopd = hopdCommand(denoFlags);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...hopd.args, "config", "check", file],
    cwd: REPO_ROOT,
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1", ...hopd.env }),
    stdin: "null",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("runHook under the production permission set fails as a failure, and runs once granted", async (t) => {
  const r = await rig();
  try {
    await t.step("no run permission: recorded as failed, counted, not run", async () => {
      const hopd = await spawnHopd({ args: ["--config", r.config] });
      try {
        // hopd logs each failed action during its tick and records the tick's decisions at
        // its end; ticks run one at a time, so the third failure means two ticks are recorded.
        let failures = 0;
        await hopd.waitForLog((record) => {
          const { policy } = (record.properties ?? {}) as Record<string, unknown>;
          return policy === "hook" &&
            /^Policy "hook" action .* failed/.test(String(record.message)) &&
            ++failures === 3;
        }, 10_000);
        assert.ok((await runHookDecisions(hopd)).length >= 2, "no runHook decision");
        for (const action of await runHookDecisions(hopd)) {
          assert.equal(action.outcome, "suppressed");
          assert.equal(action.suppressedBy, "error");
          assert.match(action.error ?? "", /no run permission for .*hook scripts\/mark it\.sh/);
        }
        assert.ok(
          await metric(hopd.opsUrl, "hopd_policy_hook_runs_total", {
            hook: "mark",
            result: "not_permitted",
          }) >= 2,
        );
        assert.equal(
          await metric(hopd.opsUrl, "hopd_policy_actions_total", {
            action: "runHook",
            outcome: "executed",
          }),
          0,
        );
        await assert.rejects(Deno.stat(r.marker), Deno.errors.NotFound);
      } finally {
        await hopd.stop();
      }
      const check = await runHopdCli(["config", "check", r.config]);
      assert.equal(check.code, 78, check.stderr);
      assert.match(check.stderr, /hook 'mark' cannot run: this hopd has no run permission/);
    });

    await t.step("the run permission for exactly the hook's command: it runs", async () => {
      const allowRun = (await runHopdCli(["config", "allow-run", r.config])).stdout.trim();
      assert.equal(allowRun, r.script);
      const flags = [`--allow-run=${allowRun}`];
      const hopd = await spawnHopd({ args: ["--config", r.config], denoFlags: flags });
      try {
        // hopd counts the run, then logs it.
        await hopd.waitForLog((r) => String(r.message).startsWith('Hook "mark" exited 0'));
        assert.ok(
          await metric(hopd.opsUrl, "hopd_policy_hook_runs_total", {
            hook: "mark",
            result: "ok",
          }) >=
            1,
          "the hook ran but was not counted",
        );
        assert.match(await Deno.readTextFile(r.marker), /^hook an arg$/m);
        assert.ok(
          await metric(hopd.opsUrl, "hopd_policy_actions_total", {
            action: "runHook",
            outcome: "executed",
          }) >= 1,
        );
      } finally {
        await hopd.stop();
      }
      const check = await configCheck(r.config, flags);
      assert.equal(check.code, 0, check.stderr);
    });
  } finally {
    await Deno.remove(r.root, { recursive: true });
  }
});

/** The permissions `deno compile` embedded in a binary (its metadata is JSON). */
async function embeddedPermissions(binary: string): Promise<Record<string, unknown>> {
  const text = new TextDecoder("latin1").decode(await Deno.readFile(binary));
  const start = text.indexOf('"permissions":{');
  assert.ok(start >= 0, "no embedded permissions");
  let depth = 0;
  let end = start + '"permissions":'.length;
  for (; end < text.length; end++) {
    if (text[end] === "{") depth++;
    if (text[end] === "}" && --depth === 0) break;
  }
  return JSON.parse(text.slice(start + '"permissions":'.length, end + 1));
}

Deno.test("scripts/compile.sh --hooks-config embeds run permission for exactly the hook commands", async () => {
  const r = await rig();
  try {
    const compile = async (extra: string[], output: string) => {
      const result = await new Deno.Command("bash", {
        args: ["scripts/compile.sh", ...extra, "--output", output],
        cwd: REPO_ROOT,
        env: { DENORT_BIN: "/bin/true", NO_COLOR: "1" },
        stdin: "null",
      }).output();
      assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
      return await embeddedPermissions(output);
    };
    const plain = await compile([], join(r.root, "hopd-plain"));
    assert.equal(plain.allow_run, null, "the production set must grant no run");
    const withHooks = await compile(["--hooks-config", r.config], join(r.root, "hopd-hooks"));
    assert.deepEqual(withHooks.allow_run, [r.script]);
    // The rest of the set is the same.
    assert.deepEqual({ ...withHooks, allow_run: null }, plain);
  } finally {
    await Deno.remove(r.root, { recursive: true });
  }
});
