import assert from "node:assert/strict";
import { join } from "node:path";
import { DecisionLog, type DecisionRecord, parseDecisionLog } from "./decision_log.ts";

function decision(tick: number): DecisionRecord {
  return {
    type: "decision",
    id: `${tick}-p`,
    time: new Date(0).toISOString(),
    tick,
    policy: "p",
    revision: "r",
    mode: "enforce",
    seed: 1,
    verdict: "healthy",
    reasons: ["x".repeat(100)],
    actions: [],
    durationMs: 0.1,
  };
}

Deno.test("DecisionLog rotates by size and keeps the configured number of files", async () => {
  const dir = await Deno.makeTempDir();
  const log = new DecisionLog({ dir, maxBytes: 1_000, files: 2 });
  for (let tick = 1; tick <= 40; tick++) log.append([decision(tick)]);
  await log.close();
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assert.deepEqual(names, ["decisions.ndjson", "decisions.ndjson.1", "decisions.ndjson.2"]);
  for (const name of names) {
    const size = (await Deno.stat(join(dir, name))).size;
    assert.ok(size <= 1_000, `${name} is ${size} bytes`);
    const parsed = parseDecisionLog(await Deno.readTextFile(join(dir, name)));
    assert.equal(parsed.skipped, 0);
  }
  // The newest records are in the live file; the in-memory view is newest first.
  const live = parseDecisionLog(await Deno.readTextFile(join(dir, "decisions.ndjson")));
  assert.equal(live.decisions.at(-1)!.tick, 40);
  assert.deepEqual(log.recent(3).decisions.map((d) => d.tick), [40, 39, 38]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("parseDecisionLog skips lines that are not records", () => {
  const text = [
    JSON.stringify({ type: "snapshot", tick: 1, time: "", snapshot: { now: 1 } }),
    "not json",
    JSON.stringify({ type: "other" }),
    JSON.stringify(decision(1)),
  ].join("\n");
  const parsed = parseDecisionLog(text);
  assert.equal(parsed.snapshots.length, 1);
  assert.equal(parsed.decisions.length, 1);
  assert.equal(parsed.skipped, 2);
});
