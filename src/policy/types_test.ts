import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import { snapshotLimits } from "./snapshot_limits.ts";
import { ACTION_TYPES } from "./types.ts";

Deno.test("policies/hopd.d.ts declares every action type and snapshot section the host uses", async () => {
  const dts = await Deno.readTextFile(new URL("../../policies/hopd.d.ts", import.meta.url));
  const declared = [...dts.matchAll(/type: "([A-Za-z]+)"/g)].map((m) => m[1]);
  assert.deepEqual(declared, [...ACTION_TYPES]);
  for (const section of ["node:", "process:", "relay:", "limiter:", "limits:", "federation?:"]) {
    assert.ok(dts.includes(section), section);
  }
});

Deno.test("policies/hopd.d.ts declares every field of the snapshot's limits", async () => {
  const dts = await Deno.readTextFile(new URL("../../policies/hopd.d.ts", import.meta.url));
  const block = dts.slice(
    dts.indexOf("  limits: {"),
    dts.indexOf("  };", dts.indexOf("  limits: {")),
  );
  const declared = [...block.matchAll(/^ {4}([A-Za-z]+): number;$/gm)].map((m) => m[1]);
  assert.deepEqual(declared, Object.keys(snapshotLimits(defaultConfig(), 0)));
});
