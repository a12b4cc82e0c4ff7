import assert from "node:assert/strict";
import { ACTION_TYPES } from "./types.ts";

Deno.test("policies/hopd.d.ts declares every action type and snapshot section the host uses", async () => {
  const dts = await Deno.readTextFile(new URL("../../policies/hopd.d.ts", import.meta.url));
  const declared = [...dts.matchAll(/type: "([A-Za-z]+)"/g)].map((m) => m[1]);
  assert.deepEqual(declared, [...ACTION_TYPES]);
  for (const section of ["node:", "process:", "relay:", "limiter:", "federation?:"]) {
    assert.ok(dts.includes(section), section);
  }
});
