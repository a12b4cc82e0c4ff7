// The disaster-recovery drill (scripts/dr_drill.sh, docs/DISASTER_RECOVERY.md) in CI: back
// up identity, config, token, policies and bans of a running hopd, wipe them, restore, start
// again, and find the same peer ID and bans.

import assert from "node:assert/strict";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

Deno.test("the DR drill restores identity, config, policies and bans", async () => {
  const output = await new Deno.Command("bash", {
    args: [`${REPO_ROOT}scripts/dr_drill.sh`],
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1" }),
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stdout + stderr);
  const summary = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.equal(summary.failed, 0, stdout);
  assert.ok(summary.checks >= 8, stdout);
  assert.match(summary.peerId, /^12D3KooW/);
  for (
    const check of [
      "same peer ID",
      "both bans back",
      "config, token and policy byte-identical",
      "corrupt archive refused",
    ]
  ) {
    assert.match(stdout, new RegExp(`^ok   ${check}`, "m"));
  }
});
