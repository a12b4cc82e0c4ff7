import assert from "node:assert/strict";
import { VerdictTracker } from "./verdict_changes.ts";

Deno.test("VerdictTracker tells a change once, starting from healthy", () => {
  const tracker = new VerdictTracker();
  assert.equal(tracker.note("p", "healthy"), undefined);
  assert.deepEqual(tracker.note("p", "unhealthy"), { from: "healthy", to: "unhealthy" });
  assert.equal(tracker.note("p", "unhealthy"), undefined);
  assert.deepEqual(tracker.note("q", "degraded"), { from: "healthy", to: "degraded" });
  tracker.forget("p");
  assert.deepEqual(tracker.note("p", "unhealthy"), { from: "healthy", to: "unhealthy" });
});
