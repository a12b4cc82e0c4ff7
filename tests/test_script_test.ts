// scripts/test.sh's closing summary (what .ci/run counts): phases with made-up output,
// through the script's own `phase` and `summarize`.
import assert from "node:assert/strict";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

/** Sources scripts/test.sh, runs `phase` for each [name, shell snippet], then `summarize`. */
async function summary(phases: [string, string][]): Promise<{ code: number; lines: string[] }> {
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  const script = [
    `source ${quote(`${REPO_ROOT}scripts/test.sh`)}`,
    ...phases.map(([name, snippet]) => `phase ${name} bash -c ${quote(snippet)}`),
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
