// scripts/coverage.ts (`deno task coverage`): its sums per folder from lcov text, the floors,
// and its report over profiles a real `deno run` wrote through DENO_COVERAGE_DIR.
import assert from "node:assert/strict";
import {
  byFolder,
  COVERAGE_FLOORS,
  floorFailures,
  folderOf,
  formatTable,
  parseLcov,
  percent,
} from "../scripts/coverage.ts";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

/** An lcov record of `path` under REPO_ROOT with `hits` as its DA lines' counts. */
function record(path: string, hits: number[]): string {
  return [
    `SF:${REPO_ROOT}${path}`,
    ...hits.map((count, i) => `DA:${i + 1},${count}`),
    `LH:${hits.filter((c) => c > 0).length}`,
    `LF:${hits.length}`,
    "end_of_record",
  ].join("\n");
}

Deno.test("coverage: lines are summed per component folder, test support and other trees left out", () => {
  const lcov = [
    record("src/relay/circuit.ts", [1, 0, 3, 0]),
    record("src/relay/pb/circuit.ts", [2, 2]),
    record("src/ratelimit/limiter.ts", [1, 1, 1, 0]),
    record("src/ratelimit/testing.ts", [0, 0, 0]),
    record("src/daemon/_test_peers.ts", [0]),
    record("src/relay/hop_handler_test.ts", [0]),
    record("src/errors.ts", [5]),
    record("tests/relay_helpers.ts", [0, 0]),
    `SF:/elsewhere/src/relay/circuit.ts\nDA:1,0\nend_of_record`,
  ].join("\n");
  const files = parseLcov(lcov, REPO_ROOT);
  assert.deepEqual([...files.keys()].sort(), [
    "src/errors.ts",
    "src/ratelimit/limiter.ts",
    "src/relay/circuit.ts",
    "src/relay/pb/circuit.ts",
  ]);
  assert.deepEqual(files.get("src/relay/circuit.ts"), { found: 4, hit: 2 });
  const rows = byFolder(files, [
    "src/errors.ts",
    "src/ratelimit/limiter.ts",
    "src/ratelimit/testing.ts",
    "src/relay/circuit.ts",
    "src/relay/never_loaded.ts",
    "src/relay/pb/circuit.ts",
  ]);
  assert.deepEqual(rows, [
    { folder: "src", found: 1, hit: 1, unloaded: [] },
    { folder: "src/ratelimit", found: 4, hit: 3, unloaded: [] },
    { folder: "src/relay", found: 6, hit: 4, unloaded: ["src/relay/never_loaded.ts"] },
  ]);
  assert.equal(folderOf("src/relay/pb/circuit.ts"), "src/relay");
  assert.equal(folderOf("src/version.ts"), "src");
});

Deno.test("coverage: a floor breaks below its percentage, on a never-loaded file, or with no data", () => {
  const floors = { "src/relay": 80, "src/policy": 80, "src/ratelimit": 75 };
  const rows = [
    { folder: "src/ratelimit", found: 4, hit: 3, unloaded: [] },
    { folder: "src/relay", found: 10_000, hit: 7_999, unloaded: ["src/relay/x.ts"] },
  ];
  assert.equal(percent(rows[1]!), 79.9); // rounded down: 79.99 never passes as 80
  assert.equal(percent({ found: 0, hit: 0 }), 0);
  assert.deepEqual(floorFailures(rows, floors), [
    "src/relay: 79.9% of lines, below 80%",
    "src/relay: no test loads src/relay/x.ts",
    "src/policy: no coverage data",
  ]);
  assert.deepEqual(
    floorFailures([{ folder: "src/relay", found: 5, hit: 4, unloaded: [] }], {
      "src/relay": 80,
    }),
    [],
  );
  const table = formatTable(rows, floors).split("\n");
  assert.match(table[1]!, /^src\/ratelimit\s+3\s+4\s+75\.0%\s+75%$/);
  assert.match(
    table[2]!,
    /^src\/relay\s+7999\s+10000\s+79\.9%\s+80%\s+\(never loaded: src\/relay\/x\.ts\)$/,
  );
  assert.match(table[3]!, /^all of src\/\s+8002\s+10004\s+79\.9%/);
  assert.deepEqual(Object.keys(COVERAGE_FLOORS).sort(), [
    "src/acme",
    "src/cli",
    "src/policy",
    "src/ratelimit",
    "src/relay",
  ]);
});

Deno.test("deno task coverage --report reads profiles a child wrote through DENO_COVERAGE_DIR, and fails the floors it breaks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-coverage-test-" });
  const entry = await Deno.makeTempFile({ prefix: "hopd-coverage-entry-", suffix: ".ts" });
  try {
    // A child process loads one relay file and runs none of the ratelimit or policy code:
    // how an end-to-end test's hopd child is counted.
    await Deno.writeTextFile(
      entry,
      `import { addrKeys } from "${new URL("src/relay/_ip.ts", `file://${REPO_ROOT}`)}";\n` +
        "console.log(typeof addrKeys);\n",
    );
    const child = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--config", "deno.json", entry],
      cwd: REPO_ROOT,
      clearEnv: true,
      env: childEnv({ DENO_COVERAGE_DIR: dir, NO_COLOR: "1" }),
    }).output();
    assert.equal(child.code, 0, new TextDecoder().decode(child.stderr));
    const report = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "coverage", "--report", dir],
      cwd: REPO_ROOT,
      clearEnv: true,
      env: childEnv({ NO_COLOR: "1" }),
    }).output();
    const out = new TextDecoder().decode(report.stdout);
    assert.equal(report.code, 1, out + new TextDecoder().decode(report.stderr));
    const relayRow = out.split("\n").find((line) => line.startsWith("src/relay "));
    assert.ok(relayRow !== undefined, out);
    const [, hit, found] = relayRow.split(/\s+/).map(Number);
    assert.ok(hit! > 0 && found! > hit!, relayRow); // _ip.ts's lines, every other file unloaded
    assert.match(relayRow, /never loaded: .*src\/relay\/circuit\.ts/);
    assert.match(out, /^FLOOR BROKEN: src\/relay: \d+\.\d% of lines, below 80%$/m);
    assert.match(out, /^FLOOR BROKEN: src\/policy: 0\.0% of lines, below 80%$/m);
    assert.match(out, /^FLOOR BROKEN: src\/ratelimit: no test loads /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(entry);
  }
});
