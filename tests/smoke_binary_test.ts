// scripts/smoke_binary.sh, the release's smoke test of the native binary, and the release
// workflow that calls it before publishing. The real binary cannot be built here (`deno
// compile` needs denort), so the script runs against the stand-in executable (this checkout
// bundled as compile.sh bundles it, with hopd's permission set), and against stand-ins broken
// one step at a time, each of which it must refuse at that step. compile.sh itself runs with
// /bin/true as its denort, which leaves the embedded program to inspect.
import assert from "node:assert/strict";
import { join } from "node:path";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";
import { standInBinary } from "./_helpers/stand_in_binary.ts";

const decoder = new TextDecoder();
const STEPS = ["version", "config", "run", "policy test", "sigterm"] as const;
type Step = typeof STEPS[number];

async function smoke(binary: string): Promise<{ code: number; out: string; err: string }> {
  const output = await new Deno.Command("bash", {
    args: [join(REPO_ROOT, "scripts/smoke_binary.sh"), binary],
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
  }).output();
  return {
    code: output.code,
    out: decoder.decode(output.stdout),
    err: decoder.decode(output.stderr),
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-smoke-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A hopd that runs the stand-in except where `body` (sh, before the exec) intervenes. */
async function brokenBinary(dir: string, name: string, body: string): Promise<string> {
  const standIn = await standInBinary(dir);
  const path = join(dir, name);
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nSTAND_IN='${standIn}'\n${body}\nexec "$STAND_IN" "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

Deno.test("smoke_binary.sh passes a working hopd through every step", async () => {
  await withTempDir(async (dir) => {
    const result = await smoke(await standInBinary(dir));
    assert.equal(result.code, 0, result.out + result.err);
    const lines = result.out.trim().split("\n");
    assert.deepEqual(
      lines.slice(0, STEPS.length).map((line) => line.match(/^smoke: ok ([a-z ]+):/)?.[1]),
      [...STEPS],
      result.out,
    );
    assert.match(lines[0]!, /^smoke: ok version: hopd \d+\.\d+\.\d+ \(deno /);
    assert.match(
      lines[2]!,
      /^smoke: ok run: ready: http:\/\/127\.0\.0\.1:\d+\/ready .*, 5 policies/,
    );
    assert.match(lines[3]!, /5 modules: 5 ok, 0 failed/);
    assert.match(lines.at(-1)!, /^smoke: passed /);
  });
});

// Each stand-in breaks one step; the smoke must stop there, after passing the ones before.
const BROKEN: { step: Step; why: string; body: string }[] = [
  {
    step: "version",
    why: "a version line without its deno versions",
    body: `[ "$1" = version ] && { echo "hopd 0.1.0"; exit 0; }`,
  },
  {
    step: "config",
    why: "an example config that config check refuses",
    body: `[ "$1 $2" = "config example" ] && { printf '[node]\\nno_such_key = 1\\n'; exit 0; }`,
  },
  {
    step: "run",
    why: "a node that loads no policy (as without its embedded sandbox worker)",
    body: `[ "$1" = run ] && export HOPD_POLICY_DIR=/nonexistent`,
  },
  {
    step: "policy test",
    why: "policy test failing a fixture",
    body: `[ "$1 $2" = "policy test" ] && { echo "1 modules: 0 ok, 1 failed"; exit 1; }`,
  },
  {
    step: "sigterm",
    why: "a node that exits 3 on SIGTERM",
    body: `if [ "$1" = run ]; then
  "$STAND_IN" "$@" &
  child=$!
  trap 'kill -TERM $child; wait $child; exit 3' TERM
  wait $child
  exit $?
fi`,
  },
];

for (const { step, why, body } of BROKEN) {
  Deno.test(`smoke_binary.sh fails at '${step}' for ${why}`, async () => {
    await withTempDir(async (dir) => {
      const result = await smoke(await brokenBinary(dir, "hopd-broken", body));
      assert.equal(result.code, 1, result.out + result.err);
      assert.match(result.err, new RegExp(`^smoke: FAILED ${step}: `, "m"), result.err);
      const passed = [...result.out.matchAll(/^smoke: ok ([a-z ]+):/gm)].map((m) => m[1]);
      assert.deepEqual(passed, STEPS.slice(0, STEPS.indexOf(step)), result.out);
      assert.doesNotMatch(result.out, /smoke: passed/);
    });
  });
}

interface Workflow {
  jobs: Record<string, {
    needs?: string | string[];
    strategy?: { matrix: { include: Record<string, unknown>[] } };
    steps: { name?: string; if?: string; run?: string; uses?: string }[];
  }>;
}

Deno.test("compile.sh embeds hopd bundled (a few files), not its ~1,300-module graph", async () => {
  await withTempDir(async (dir) => {
    const output = await new Deno.Command("bash", {
      args: [join(REPO_ROOT, "scripts/compile.sh"), "--output", join(dir, "hopd")],
      env: childEnv({ DENORT_BIN: "/bin/true", HOPD_BUNDLE_DIR: join(dir, "bundle") }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(output.success, decoder.decode(output.stderr));
    const binary = await Deno.readFile(join(dir, "hopd"));
    const embeddedBytes = binary.length - (await Deno.stat("/bin/true")).size;
    const text = new TextDecoder("latin1").decode(binary);
    assert.ok(text.includes("hopd_sandbox_worker.js"), "the sandbox worker's bundle is embedded");
    // The bundle is ~3.5 MB; main.ts's module graph with its npm packages was 54 MB, and
    // running from it keeps every module's record and source in memory.
    assert.ok(embeddedBytes < 8 * 1024 * 1024, `embedded ${embeddedBytes} bytes`);
  });
});

Deno.test("release.yml is valid YAML and smokes the linux x86_64 binary before any upload", async () => {
  const parsed = await new Deno.Command("python3", {
    args: [
      "-c",
      "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
      join(REPO_ROOT, ".github/workflows/release.yml"),
    ],
  }).output().catch((error) => {
    throw new Error("python3 with PyYAML is needed (scripts/test_deps.sh installs python3-yaml)", {
      cause: error,
    });
  });
  assert.equal(parsed.code, 0, decoder.decode(parsed.stderr));
  const workflow: Workflow = JSON.parse(decoder.decode(parsed.stdout));

  const build = workflow.jobs.build!;
  const smoked = build.strategy!.matrix.include.filter((row) => row.smoke === true);
  assert.deepEqual(smoked.map((row) => row.target), ["x86_64-unknown-linux-gnu"]);
  const index = (match: (s: Workflow["jobs"][string]["steps"][number]) => boolean) => {
    const at = build.steps.findIndex(match);
    assert.ok(at >= 0, JSON.stringify(build.steps));
    return at;
  };
  const compile = index((s) => s.run?.includes("scripts/compile.sh") === true);
  const smoke = index((s) => s.run?.includes("scripts/smoke_binary.sh") === true);
  const upload = index((s) => s.uses?.startsWith("actions/upload-artifact") === true);
  assert.ok(compile < smoke && smoke < upload, "compile, then smoke, then upload");
  assert.equal(build.steps[smoke]!.if, "matrix.smoke");
  assert.match(build.steps[smoke]!.run!, /smoke_binary\.sh dist\/\$\{\{ matrix\.asset \}\}/);
  assert.deepEqual([workflow.jobs.publish!.needs].flat(), ["build"]);
});
