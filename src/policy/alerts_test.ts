import assert from "node:assert/strict";
import { MetricsRegistry } from "../metrics/mod.ts";
import { AlertDispatcher } from "./alerts.ts";
import { PolicyMetrics } from "./metrics.ts";

const ALERT = {
  severity: "critical" as const,
  summary: "memory high",
  labels: { team: "relay" },
  policy: "restart_on_memory",
  time: "2026-11-24T00:00:00.000Z",
};

async function deliveries(registry: MetricsRegistry) {
  const values = await registry.values("hopd_alert_deliveries_total");
  return Object.fromEntries(
    values.map((v) => [`${v.labels.sink}:${v.labels.result}`, v.value]),
  );
}

Deno.test("AlertDispatcher retries a failing sink with backoff until it accepts", async () => {
  const bodies: unknown[] = [];
  let calls = 0;
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      calls++;
      bodies.push({ path: new URL(req.url).pathname, body: await req.json() });
      return new Response(null, { status: calls <= 2 ? 503 : 200 });
    },
  );
  const registry = new MetricsRegistry();
  const dispatcher = new AlertDispatcher({
    alertmanagerUrl: `http://127.0.0.1:${server.addr.port}`,
    queueSize: 10,
    retries: 5,
    instance: "12D3KooWtest",
    baseDelayMs: 10,
  }, new PolicyMetrics(registry));
  dispatcher.send(ALERT);
  // Not until the sink was called three times: the answer to the third call is counted
  // after the call arrives (waiting for the call alone missed 'alertmanager:ok' under load).
  await dispatcher.idle();
  dispatcher.close();
  assert.equal(calls, 3);
  assert.deepEqual(await deliveries(registry), { "alertmanager:error": 2, "alertmanager:ok": 1 });
  const last = bodies.at(-1) as { path: string; body: Record<string, unknown>[] };
  assert.equal(last.path, "/api/v2/alerts");
  assert.deepEqual(last.body[0]!.labels, {
    alertname: "hopd_restart_on_memory",
    severity: "critical",
    policy: "restart_on_memory",
    instance: "12D3KooWtest",
    team: "relay",
  });
  assert.deepEqual(last.body[0]!.annotations, { summary: "memory high" });
});

Deno.test("AlertDispatcher drops the oldest alert when its queue is full and gives up after its retries", async () => {
  const registry = new MetricsRegistry();
  let attempts = 0;
  const dispatcher = new AlertDispatcher({
    webhook: "http://127.0.0.1:1/hook",
    queueSize: 2,
    retries: 2,
    instance: "x",
    baseDelayMs: 1,
    fetch: () => {
      attempts++;
      return Promise.reject(new TypeError("connection refused"));
    },
  }, new PolicyMetrics(registry));
  for (let i = 0; i < 5; i++) dispatcher.send({ ...ALERT, summary: `alert ${i}` });
  // An empty queue is not the end: the last delivery may still be in flight, and retried.
  await dispatcher.idle();
  dispatcher.close();
  const counts = await deliveries(registry);
  // The first alert was in flight; of the four queued behind it, two were dropped unsent.
  assert.equal(counts["webhook:dropped"], 2 + 3);
  assert.equal(attempts, 3 * 2);
});
