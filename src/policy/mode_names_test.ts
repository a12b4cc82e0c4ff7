import assert from "node:assert/strict";
import { modeNamesCheck, nameDistance } from "./mode_names.ts";

Deno.test("nameDistance counts edits, a swap as one, and ignores case, _ and -", () => {
  assert.equal(nameDistance("restart_on_memroy", "restart_on_memory"), 1);
  assert.equal(nameDistance("Restart-On-Memory", "restart_on_memory"), 0);
  assert.equal(nameDistance("restart_on_mem", "restart_on_memory"), 3);
  assert.equal(nameDistance("canary", "restart_on_memory") > 2, true);
});

Deno.test("modeNamesCheck: typos of a policy apart from names still to come", () => {
  const check = modeNamesCheck(
    { restart_on_memroy: "dryrun", canary: "dryrun", scale_up_on_load: "warn" },
    ["restart_on_memory", "scale_up_on_load"],
  );
  assert.deepEqual(check.unknown, ["canary", "restart_on_memroy"]);
  assert.deepEqual(check.typos, [{ name: "restart_on_memroy", policy: "restart_on_memory" }]);
  assert.equal(check.dirFound, true);
  const missing = modeNamesCheck({ restart_on_memroy: "dryrun" }, undefined);
  assert.deepEqual(missing, {
    unknown: ["restart_on_memroy"],
    typos: [],
    known: [],
    dirFound: false,
  });
});
