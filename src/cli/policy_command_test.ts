import assert from "node:assert/strict";
import { join } from "node:path";
import { exampleSnapshot } from "../policy/mod.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, run } from "./mod.ts";

const REPO = new URL("../../", import.meta.url).pathname;

function capture(): CliIo & { text(): string; errors(): string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    env: () => ({}),
    text: () => out.join(""),
    errors: () => err.join(""),
  };
}

Deno.test("hopd policy test passes every shipped policy's fixtures and checks the shipped plugin", async () => {
  const io = capture();
  assert.equal(await run(["policy", "test", join(REPO, "policies")], io), EXIT_OK, io.text());
  for (
    const name of [
      "alert_on_abuse",
      "drain_on_federation_loss",
      "restart_on_memory",
      "scale_up_on_load",
      "throttle_on_latency",
    ]
  ) {
    assert.match(io.text(), new RegExp(`ok    policy .*${name}\\.js \\(\\d+ fixture cases\\)`));
  }
  assert.match(io.text(), /^5 modules: 5 ok, 0 failed; fixture cases: \d+ passed, 0 failed$/m);
  const plugins = capture();
  assert.equal(
    await run(["policy", "check", join(REPO, "plugins/examples")], plugins),
    EXIT_OK,
  );
  assert.match(plugins.text(), /ok {4}plugin .*refuse_peers\.js \(1 fixture cases\)/);
});

Deno.test("hopd policy check and test fail on a broken module or a failing case", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "bad.js"), "export function evaluate( {");
    const io = capture();
    assert.equal(await run(["policy", "check", join(dir, "bad.js")], io), EXIT_FAILURE);
    assert.match(io.text(), /FAIL {2}policy .*bad\.js: compile: SyntaxError/);

    await Deno.writeTextFile(
      join(dir, "bad.js"),
      `export function evaluate() { return { verdict: "healthy", reasons: [], actions: [] }; }`,
    );
    await Deno.writeTextFile(
      join(dir, "bad_test.js"),
      `export const cases = [{ name: "wants unhealthy", expect: { verdict: "unhealthy" } }];`,
    );
    const tested = capture();
    assert.equal(await run(["policy", "test", dir], tested), EXIT_FAILURE);
    assert.match(tested.text(), /FAIL {2}wants unhealthy: verdict is healthy, expected unhealthy/);
    assert.match(
      tested.text(),
      /^1 modules: 0 ok, 1 failed; fixture cases: 0 passed, 1 failed$/m,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hopd policy check and test count every FAIL line in their summary", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "syntax.js"), "export function evaluate( {");
    await Deno.writeTextFile(join(dir, "no_evaluate.js"), "export const x = 1;");
    await Deno.writeTextFile(
      join(dir, "bad_verdict.js"),
      `export function evaluate() { return { verdict: "fine" }; }`,
    );
    await Deno.writeTextFile(
      join(dir, "good.js"),
      `export function evaluate() { return { verdict: "healthy" }; }`,
    );
    for (const command of ["check", "test"]) {
      const io = capture();
      assert.equal(await run(["policy", command, dir], io), EXIT_FAILURE, command);
      const lines = io.text().trimEnd().split("\n");
      assert.equal(lines.filter((line) => line.startsWith("FAIL  policy")).length, 3);
      assert.match(
        lines.at(-1)!,
        /^4 modules: 1 ok, 3 failed(; fixture cases: 0 passed, 0 failed)?$/,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const LEAK_NOW = Date.UTC(2026, 0, 1, 12);
const LEAK_SAMPLES = Array.from({ length: 30 }, (_, i) => ({
  t: LEAK_NOW - (30 - i) * 60_000,
  u: 1_000 + 50 * i,
  r: 100,
  c: 10,
}));

Deno.test("hopd policy eval prints the result of one snapshot and explains the rails", async () => {
  const io = capture();
  const code = await run([
    "policy",
    "eval",
    join(REPO, "policies/restart_on_memory.js"),
    "--snapshot",
    JSON.stringify({ now: LEAK_NOW, process: { rssBytes: 3 * 1024 ** 3 } }),
    // 30 minutes of memory the load does not explain, growing under the idle snapshot's load.
    "--state",
    JSON.stringify({ samples: LEAK_SAMPLES }),
    "--explain",
  ], io);
  assert.equal(code, EXIT_OK, io.errors());
  const json = io.text().split("\n# ")[0]!;
  const result = JSON.parse(json);
  assert.equal(result.verdict, "unhealthy");
  assert.deepEqual(result.actions.map((a: { type: string }) => a.type), ["alert", "restart"]);
  assert.match(io.text(), /# action \{"type":"restart"\}: runs when asked in 2 of 3 ticks/);
  assert.match(io.text(), /at most 3 restarts per 3600000 ms/);
});

Deno.test("hopd policy eval rejects a snapshot field that does not exist instead of judging the default", async (t) => {
  const policy = join(REPO, "policies/restart_on_memory.js");
  const cases: [string, string[], RegExp][] = [
    [
      "a misspelled field",
      ["--snapshot", JSON.stringify({ process: { rssByte: 3 * 1024 ** 3 } })],
      /--snapshot: 'process\.rssByte' is not a snapshot field \('process' has rssBytes, /,
    ],
    [
      "a misspelled section",
      ["--snapshot", JSON.stringify({ proces: { rssBytes: 3 * 1024 ** 3 } })],
      /--snapshot: 'proces' is not a snapshot field \(a snapshot has now, tick, node, process/,
    ],
    [
      "a wrong type",
      ["--snapshot", JSON.stringify({ process: { rssBytes: "3GiB" } })],
      /--snapshot: process\.rssBytes: .*expected number/,
    ],
    [
      "a misspelled field in the history",
      ["--history", JSON.stringify([{ relay: { setupLatencyMs: { p90: 5 } } }])],
      /--history\[0\]: 'relay\.setupLatencyMs\.p90' is not a snapshot field/,
    ],
  ];
  for (const [name, args, expected] of cases) {
    await t.step(name, async () => {
      const io = capture();
      assert.equal(await run(["policy", "eval", policy, ...args], io), EXIT_FAILURE);
      assert.match(io.errors(), expected);
      assert.equal(io.text(), "", "no verdict is printed");
    });
  }
});

Deno.test("a fixture case with a misspelled snapshot field fails instead of testing the default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(dir, "mem.js"),
      `export function evaluate(s) {
        return { verdict: s.process.rssBytes > 1e9 ? "unhealthy" : "healthy" };
      }`,
    );
    await Deno.writeTextFile(
      join(dir, "mem_test.js"),
      `export const cases = [{ name: "big", snapshot: { process: { rssByte: 2e9 } },
        expect: { verdict: "healthy" } }];`,
    );
    const io = capture();
    assert.equal(await run(["policy", "test", dir], io), EXIT_FAILURE);
    assert.match(io.text(), /FAIL {2}big: snapshot: 'process\.rssByte' is not a snapshot field/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hopd policy replay shadows a candidate over a decision log", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = [];
    for (let tick = 1; tick <= 6; tick++) {
      const snapshot = exampleSnapshot(1_700_000_000_000 + tick * 5_000);
      const busy = tick >= 4;
      const relay = {
        ...snapshot.relay,
        setupLatencyMs: { p50: 5, p99: busy ? 400 : 8, count: 50 },
      };
      lines.push(
        JSON.stringify({
          type: "snapshot",
          tick,
          time: "",
          snapshot: { ...snapshot, tick, relay },
        }),
      );
      lines.push(JSON.stringify({
        type: "decision",
        id: `${tick}-throttle_on_latency`,
        time: "",
        tick,
        policy: "throttle_on_latency",
        revision: "old",
        mode: "enforce",
        seed: 1,
        verdict: "healthy",
        reasons: [],
        actions: [],
        durationMs: 0.1,
      }));
    }
    const log = join(dir, "decisions.ndjson");
    await Deno.writeTextFile(log, lines.join("\n") + "\n");
    const io = capture();
    const code = await run([
      "policy",
      "replay",
      join(REPO, "policies/throttle_on_latency.js"),
      "--log",
      log,
    ], io);
    assert.equal(code, EXIT_OK, io.errors());
    const summary = JSON.parse(io.text().trim().split("\n").at(-1)!);
    assert.equal(summary.snapshots, 6);
    assert.equal(summary.comparedWithRecorded, 6);
    assert.deepEqual(summary.verdicts, { healthy: 3, degraded: 3 });
    assert.deepEqual(summary.actions, { throttle: 3 });
    assert.equal(summary.changed, 3);
    assert.match(io.text(), /tick 4: recorded healthy \[\], candidate degraded \["throttle"\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
