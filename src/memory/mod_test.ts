import assert from "node:assert/strict";
import { getHeapSpaceStatistics } from "node:v8";
import { compactHeap } from "./mod.ts";

function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!.space_size;
}

Deno.test("compactHeap() shrinks a young generation that start-up garbage grew", () => {
  // Objects that survive a few scavenges make V8 grow the semi-spaces, as a start does.
  let kept: unknown[] = [];
  for (let round = 0; round < 20 && newSpaceBytes() < 8 * 1024 * 1024; round++) {
    for (let i = 0; i < 100_000; i++) kept.push({ i, text: `item ${i}`, list: [i, i + 1] });
    if (kept.length > 400_000) kept = [];
  }
  const grown = newSpaceBytes();
  assert.ok(grown >= 8 * 1024 * 1024, `new space grew to ${grown} bytes`);
  kept = [];
  assert.equal(compactHeap(), true, "this Deno gives hopd a way to collect");
  const after = newSpaceBytes();
  assert.ok(after <= grown / 4, `new space ${grown} → ${after} bytes`);
  assert.equal(kept.length, 0);
});

Deno.test("compactHeap() leaves no gc() on the global of contexts made later", async () => {
  assert.equal(compactHeap(), true);
  const { runInNewContext } = await import("node:vm");
  assert.equal(runInNewContext("typeof gc"), "undefined");
});
