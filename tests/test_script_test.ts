// scripts/test.sh's closing summary (what .ci/run counts): phases with made-up output,
// through the script's own `phase` and `summarize`.
import assert from "node:assert/strict";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

/**
 * Sources scripts/test.sh, starts `beside` for each of `besides`, runs `phase` for each [name,
 * shell snippet], collects the besides (`wait_beside`), then `summarize`.
 */
async function summary(
  phases: [string, string][],
  besides: [string, string][] = [],
): Promise<{ code: number; lines: string[] }> {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const script = [
    `source ${quote(`${REPO_ROOT}scripts/test.sh`)}`,
    ...besides.map(([name, snippet]) => `beside ${name} bash -c ${quote(snippet)}`),
    ...phases.map(([name, snippet]) => `phase ${name} bash -c ${quote(snippet)}`),
    ...(besides.length > 0 ? ["wait_beside"] : []),
    "summarize",
  ].join("\n");
  const output = await new Deno.Command("bash", {
    args: ["-c", script],
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1" }),
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const tail = text.slice(text.lastIndexOf("==> summary\n") + "==> summary\n".length);
  return { code: output.code, lines: tail.trimEnd().split("\n").map((l) => l.trim()) };
}

Deno.test("scripts/test.sh ends with one summary of every phase, the total last", async (t) => {
  await t.step("deno test summaries and an interop line add up", async () => {
    const { code, lines } = await summary([
      ["parallel", `echo "ok | 350 passed (370 steps) | 0 failed | 2 ignored (2m2s)"`],
      ["serial", `echo "FAILED | 4 passed | 2 failed (1m1s)"; exit 1`],
      ["interop", `echo "interop: 48 passed, 0 failed (116 s)"`],
    ]);
    assert.equal(code, 1);
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^parallel\s+350 passed,\s+0 failed/);
    assert.match(lines[1]!, /^serial\s+4 passed,\s+2 failed/);
    assert.match(lines[2]!, /^interop\s+48 passed,\s+0 failed/);
    assert.equal(lines[3], "tests: 402 passed, 2 failed (3 phases)");
  });
  await t.step("a phase run beside the others is counted once it ends", async () => {
    const { code, lines } = await summary([
      ["parallel", `sleep 3; echo "ok | 350 passed (370 steps) | 0 failed | 2 ignored (2m2s)"`],
    ], [["interop", `sleep 1; echo "interop: 47 passed, 1 failed (116 s)"; exit 1`]]);
    assert.equal(code, 1);
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^parallel\s+350 passed,\s+0 failed/);
    // Its own time (1 s, 2 across a second boundary), not the time until it was collected.
    assert.match(lines[1]!, /^interop\s+47 passed,\s+1 failed\s+[12]s$/);
    assert.equal(lines[2], "tests: 397 passed, 1 failed (2 phases)");
  });
  await t.step("the last summary line of a phase counts", async () => {
    const { code, lines } = await summary([
      ["parallel", `echo "ok | 1 passed | 0 failed"; echo "ok | 7 passed | 0 failed"`],
    ]);
    assert.equal(code, 0);
    assert.equal(lines.at(-1), "tests: 7 passed, 0 failed (1 phases)");
  });
  await t.step(
    "a phase without a summary, or failing with none counted, is a failure",
    async () => {
      const { code, lines } = await summary([
        ["broken", `echo "error: Type checking failed"; exit 1`],
        ["quiet", `echo "ok | 2 passed | 0 failed"; exit 3`],
        ["silent", `true`],
      ]);
      assert.equal(code, 1);
      assert.match(lines[0]!, /^broken\s+0 passed,\s+1 failed .*no summary line; exit 1/);
      assert.match(lines[1]!, /^quiet\s+2 passed,\s+1 failed .*exit 3 with no failure counted/);
      assert.match(lines[2]!, /^silent\s+0 passed,\s+1 failed .*no summary line; exit 0/);
      assert.equal(lines.at(-1), "tests: 2 passed, 3 failed (3 phases)");
    },
  );
});

/**
 * The phases scripts/test.sh's main would run (its `phase` and its bundling replaced by ones
 * that print them).
 */
async function mainPhases(env: Record<string, string>): Promise<string[]> {
  const script = [
    `source '${REPO_ROOT}scripts/test.sh'`,
    `phase() { printf 'PHASE %s\\n' "$*"; }`,
    `beside() { printf 'PHASE %s (beside)\\n' "$*"; }`,
    `wait_beside() { printf 'PHASE wait\\n'; }`,
    `bundle_hopd() { printf 'PHASE bundle\\n'; }`,
    `typecheck() { printf 'PHASE check\\n'; }`,
    "main",
  ].join("\n");
  // Without the caller's TEST_COVERAGE_DIR: .ci/run sets it for the whole test command.
  const { TEST_COVERAGE_DIR: _, ...inherited } = childEnv({ NO_COLOR: "1" });
  const output = await new Deno.Command("bash", {
    args: ["-c", script],
    clearEnv: true,
    env: { ...inherited, ...env },
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stdout).split("\n").filter((l) => l.startsWith("PHASE "))
    .map((l) => l.slice("PHASE ".length));
}

/** The files a phase's `deno test` command names: its words that end in _test.ts. */
function testFiles(command: string): string[] {
  return command.split(" ").filter((word) => word.endsWith("_test.ts"));
}

Deno.test("scripts/test.sh's parallel phase writes coverage into TEST_COVERAGE_DIR when set, and no other phase", async () => {
  const plain = await mainPhases({});
  // The tree is type-checked once and hopd bundled first, for every phase's tests (which run
  // with --no-check); the interop phase starts next and runs beside the others; it is collected
  // after them.
  assert.deepEqual(plain.slice(0, 3), ["check", "bundle", "interop deno task interop (beside)"]);
  assert.ok(plain[3]!.startsWith("parallel deno test -A --no-check --parallel tests/"), plain[3]);
  assert.deepEqual(plain.slice(4), [
    "serial deno test -A --no-check tests/bandwidth_e2e_test.ts tests/load_test_smoke_test.ts",
    "wait",
  ]);
  const withCoverage = await mainPhases({ TEST_COVERAGE_DIR: "/tmp/hopd-unit-cov" });
  assert.equal(
    withCoverage[3],
    plain[3]!.replace(
      "--parallel ",
      "--parallel --coverage=/tmp/hopd-unit-cov --coverage-raw-data-only ",
    ),
  );
  // The bandwidth and load figures are measured without coverage's overhead.
  assert.deepEqual(withCoverage.slice(4), plain.slice(4));
});

Deno.test("scripts/test.sh runs every file with a Deno.test once, the longest-running parallel ones first", async () => {
  const [, , , parallel, serial] = await mainPhases({});
  // No empty argument, which deno test takes for "." (every file, the serial ones too).
  assert.ok(!parallel!.includes("  ") && !parallel!.endsWith(" "), parallel);
  const inParallel = testFiles(parallel!);
  const inSerial = testFiles(serial!);
  assert.equal(new Set(inParallel).size, inParallel.length, "a file named twice");
  // Every file that declares a test, found here by its contents rather than by its name.
  const declaring: string[] = [];
  for await (const file of walkSources(REPO_ROOT, "")) {
    if ((await Deno.readTextFile(`${REPO_ROOT}${file}`)).includes("Deno.test(")) {
      declaring.push(file);
    }
  }
  assert.ok(declaring.length > 100, `only ${declaring.length} files found`);
  const run = new Set([...inParallel, ...inSerial]);
  assert.deepEqual(declaring.filter((file) => !run.has(file)), [], "files no phase runs");
  assert.deepEqual(inSerial.filter((file) => inParallel.includes(file)), [], "run twice");
  // The longest ones lead; the rest follow in path order.
  const lead = inParallel.findIndex((file) => !file.startsWith("tests/"));
  assert.ok(lead > 0 && inParallel.indexOf("tests/acme_e2e_test.ts") < lead, parallel);
  const rest = inParallel.slice(lead);
  assert.deepEqual(rest, [...rest].sort(), "the rest out of path order");
});

/** The .ts and .js files under `dir` (relative to `root`), skipping node_modules and .git. */
async function* walkSources(root: string, dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(`${root}${dir}`)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory && !["node_modules", ".git", "dist", "hopd-data"].includes(entry.name)) {
      yield* walkSources(root, `${path}/`);
    } else if (entry.isFile && /\.(ts|js|mjs)$/.test(entry.name)) {
      yield path;
    }
  }
}

Deno.test("childEnv() keeps hopd children out of the test command's coverage run, and only of it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-child-env-" });
  /** DENO_COVERAGE_DIR as childEnv() passes it on, in a process with `env`. */
  async function passedOn(env: Record<string, string>): Promise<string> {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { childEnv } from "${new URL("_helpers/child_env.ts", import.meta.url)}";` +
        `console.log(childEnv().DENO_COVERAGE_DIR ?? "unset");`,
      ],
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout).trim();
  }
  try {
    await t.step("under TEST_COVERAGE_DIR: left out", async () => {
      assert.equal(
        await passedOn({ TEST_COVERAGE_DIR: dir, DENO_COVERAGE_DIR: dir }),
        "unset",
      );
    });
    await t.step("set on purpose, without TEST_COVERAGE_DIR: passed on", async () => {
      assert.equal(await passedOn({ DENO_COVERAGE_DIR: dir }), dir);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
