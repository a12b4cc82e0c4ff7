// A few-second smoke of scripts/load_test.sh: tiny numbers against its own hopd, the JSON
// report parsed and checked (the full soak is in bench/RESULTS.md).

import assert from "node:assert/strict";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

Deno.test("load_test.sh holds reservations, relays circuits and reports JSON", async () => {
  const output = await new Deno.Command("bash", {
    args: [
      `${REPO_ROOT}scripts/load_test.sh`,
      "--reservations",
      "12",
      "--rate",
      "3",
      "--duration",
      "3",
      "--targets",
      "2",
      "--settle",
      "0",
      "--sample",
      "1",
    ],
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1" }),
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(report.reservations.requested, 12);
  assert.equal(report.reservations.reserved, 12, JSON.stringify(report.reservations));
  assert.equal(report.reservations.heldAtEnd, 12);
  // 12 holders + 2 echo targets.
  assert.equal(report.reservations.relayActiveAtEnd, 14);
  assert.equal(report.circuits.offered, 9);
  assert.equal(report.circuits.ok + report.circuits.failed, 9);
  assert.equal(report.relayCounters.circuitsOk, report.circuits.ok);
  // A shared, busy machine may fail a circuit or two; most must get through.
  assert.ok(report.circuits.ok >= 5, JSON.stringify(report.circuits));
  assert.ok(report.circuits.achievedPerSecond > 1);
  assert.ok(report.circuits.clientSetupMs.p50 > 0);
  assert.ok(report.circuits.relaySetupMs.p50 > 0);
  assert.equal(typeof report.relayErrors, "number");
  assert.ok(report.hopd.rssStartMib > 50 && report.hopd.rssEndMib > 50);
  assert.ok(report.hopd.samples.length >= 3);
  assert.ok(Number.isFinite(report.hopd.rssDriftPercent));
  assert.ok(report.hopd.cpuSeconds > 0);
});

Deno.test("load_test.sh --help prints its usage and exits 0; a wrong flag exits 2 naming it", async () => {
  const script = `${REPO_ROOT}scripts/load_test.sh`;
  const help = await new Deno.Command("bash", { args: [script, "--help"], stdin: "null" }).output();
  const text = new TextDecoder().decode(help.stdout);
  assert.equal(help.code, 0, new TextDecoder().decode(help.stderr));
  for (const flag of ["--reservations", "--rate", "--duration", "--soak", "--relay"]) {
    assert.ok(text.includes(flag), `${flag} missing from:\n${text}`);
  }
  const wrong = await new Deno.Command("bash", { args: [script, "--bogus"], stdin: "null" })
    .output();
  assert.equal(wrong.code, 2);
  assert.match(new TextDecoder().decode(wrong.stderr), /unknown flag '--bogus'/);
});
