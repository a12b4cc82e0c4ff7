import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DECISIONS_RESPONSE_MAX_BYTES,
  RECENT_DECISIONS_MAX,
  RECENT_DECISIONS_MAX_BYTES,
} from "./constants.ts";
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

/** A decision of policy `p` at `tick` carrying `logs` lines of `chars` characters. */
function loggedDecision(tick: number, logs: number, chars: number): DecisionRecord {
  return { ...decision(tick), logs: Array.from({ length: logs }, () => "x".repeat(chars)) };
}

// Issue 15, item 4: a policy's output reached /v1/decisions unbounded (a page of 500 answered
// 180 MB and RSS grew to 1.40 GB). What a policy can log per decision is capped in the sandbox;
// these are the bounds on the decisions kept, and on a page of them.
Deno.test("DecisionLog keeps at most RECENT_DECISIONS_MAX decisions and RECENT_DECISIONS_MAX_BYTES of them in memory", async (t) => {
  await t.step("by count", () => {
    const log = new DecisionLog({ maxBytes: 0, files: 0 });
    for (let tick = 1; tick <= RECENT_DECISIONS_MAX + 100; tick++) log.append([decision(tick)]);
    const kept = log.recent(10 * RECENT_DECISIONS_MAX).decisions;
    assert.equal(kept.length, RECENT_DECISIONS_MAX);
    assert.equal(kept[0]!.tick, RECENT_DECISIONS_MAX + 100);
    assert.equal(kept.at(-1)!.tick, 101);
  });
  await t.step("by bytes, the newest kept", () => {
    const log = new DecisionLog({ maxBytes: 0, files: 0 });
    // 20 lines of 1,000 characters (the sandbox's cap on one evaluation's logs): ~20 KB each,
    // so 500 of them would be ~10 MB.
    for (let tick = 1; tick <= RECENT_DECISIONS_MAX; tick++) {
      log.append([loggedDecision(tick, 20, 1_000)]);
    }
    const kept = log.recent(RECENT_DECISIONS_MAX);
    const bytes = kept.decisions.reduce((sum, d) => sum + JSON.stringify(d).length, 0);
    assert.ok(bytes <= RECENT_DECISIONS_MAX_BYTES, `${bytes} bytes kept`);
    assert.ok(kept.decisions.length < RECENT_DECISIONS_MAX, `${kept.decisions.length} kept`);
    assert.ok(bytes > RECENT_DECISIONS_MAX_BYTES - 25_000, "more dropped than the bound needs");
    assert.equal(kept.decisions[0]!.tick, RECENT_DECISIONS_MAX);
    assert.equal(kept.truncated, false, "what memory holds is not a truncated page");
  });
});

Deno.test("DecisionLog.recent() stops a page at its byte bound, newest first, and says truncated", () => {
  const log = new DecisionLog({ maxBytes: 0, files: 0 });
  for (let tick = 1; tick <= 300; tick++) log.append([loggedDecision(tick, 20, 1_000)]);
  const page = log.recent(500, {}, DECISIONS_RESPONSE_MAX_BYTES);
  assert.equal(page.truncated, true);
  assert.ok(JSON.stringify(page).length <= DECISIONS_RESPONSE_MAX_BYTES + 1_000);
  assert.ok(page.decisions.length > 150, `${page.decisions.length} decisions`);
  assert.deepEqual(
    page.decisions.map((d) => d.tick),
    Array.from({ length: page.decisions.length }, (_, i) => 300 - i),
  );
  // Under the bound: the whole page, not truncated.
  const small = log.recent(10, {}, DECISIONS_RESPONSE_MAX_BYTES);
  assert.equal(small.decisions.length, 10);
  assert.equal(small.truncated, false);
});
