import assert from "node:assert/strict";
import { MetricsRegistry } from "../metrics/mod.ts";
import { registerNodeMetrics } from "./node_metrics.ts";

Deno.test("registerNodeMetrics() reads readiness and draining at scrape time and counts reloads", async () => {
  const registry = new MetricsRegistry();
  let ready = true;
  let draining = false;
  const metrics = registerNodeMetrics(
    registry,
    () => ({ ready, reasons: ready ? [] : ["node is draining"] }),
    () => draining,
  );
  const scrape = async () => await registry.metrics();
  assert.match(await scrape(), /^hopd_ready 1$/m);
  assert.match(await scrape(), /^hopd_draining 0$/m);
  ready = false;
  draining = true;
  assert.match(await scrape(), /^hopd_ready 0$/m);
  assert.match(await scrape(), /^hopd_draining 1$/m);
  metrics.reloads.inc({ result: "error" });
  assert.match(await scrape(), /^hopd_reloads_total\{result="error"\} 1$/m);
});
