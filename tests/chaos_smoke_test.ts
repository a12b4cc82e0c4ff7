// A short run of scripts/chaos_test.sh's scenario (tests/chaos/chaos.ts): 5 relays, 10
// clients, 2 relays SIGKILLed; every affected client re-reserves on a survivor through
// select and every other client is undisturbed.

import assert from "node:assert/strict";
import { runChaos } from "./chaos/chaos.ts";

Deno.test("chaos: 5 relays, 2 SIGKILLed: affected clients move through select, the others stay", async () => {
  const summary = await runChaos({ relays: 5, kill: 2, clients: 10 });
  assert.deepEqual(summary.failures, []);
  assert.equal(summary.ok, true);
  assert.ok(summary.affected > 0);
  assert.equal(summary.movedToSurvivors, summary.affected);
  assert.equal(summary.undisturbed, summary.clients - summary.affected);
});
