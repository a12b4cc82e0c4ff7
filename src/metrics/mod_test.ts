import assert from "node:assert/strict";
import { createRegistry, MetricsRegistry } from "./mod.ts";

Deno.test("MetricsRegistry renders its counters, gauges and histograms, collectors run at each scrape", async () => {
  const registry = new MetricsRegistry();
  const requests = registry.counter({
    name: "hopd_test_requests_total",
    help: "Requests by result.",
    labelNames: ["result"] as const,
  });
  requests.inc({ result: "ok" });
  requests.labels({ result: "error" }).inc(2);
  let live = 3;
  registry.gauge({
    name: "hopd_test_live",
    help: "Live things.",
    collect() {
      this.set(live);
    },
  });
  const seconds = registry.histogram({
    name: "hopd_test_seconds",
    help: "Durations.",
    buckets: [0.1, 1],
  });
  seconds.observe(0.5);

  const text = await registry.metrics();
  assert.match(text, /^hopd_test_requests_total\{result="ok"\} 1$/m);
  assert.match(text, /^hopd_test_requests_total\{result="error"\} 2$/m);
  assert.match(text, /^hopd_test_live 3$/m);
  assert.match(text, /^hopd_test_seconds_bucket\{le="0.1"\} 0$/m);
  assert.match(text, /^hopd_test_seconds_bucket\{le="1"\} 1$/m);
  assert.match(registry.contentType, /^text\/plain/);
  live = 5;
  assert.match(await registry.metrics(), /^hopd_test_live 5$/m);
});

Deno.test("MetricsRegistry.values() reads one metric's series, histogram lines by name; none for an unknown name", async () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter({ name: "hopd_test_total", help: "t", labelNames: ["k"] });
  counter.inc({ k: "a" }, 4);
  registry.histogram({ name: "hopd_test_seconds", help: "t", buckets: [1] }).observe(2);

  assert.deepEqual(await registry.values("hopd_test_total"), [{ labels: { k: "a" }, value: 4 }]);
  const lines = (await registry.values("hopd_test_seconds")).map((v) => [v.metricName, v.value]);
  assert.deepEqual(lines, [
    ["hopd_test_seconds_bucket", 0],
    ["hopd_test_seconds_bucket", 1],
    ["hopd_test_seconds_sum", 2],
    ["hopd_test_seconds_count", 1],
  ]);
  assert.deepEqual(await registry.values("hopd_test_missing"), []);
});

Deno.test("MetricsRegistry refuses a metric name declared twice", () => {
  const registry = new MetricsRegistry();
  registry.gauge({ name: "hopd_test_value", help: "t" });
  assert.throws(() => registry.counter({ name: "hopd_test_value", help: "t" }), /already/);
});

Deno.test("createRegistry() drops prom-client's *_total gauges and /proc readers, reads RSS from Deno, labels the build", async () => {
  const text = await createRegistry({ version: "9.9.9" }).metrics();
  assert.doesNotMatch(text, /^nodejs_active_handles_total/m);
  assert.doesNotMatch(text, /^process_open_fds/m);
  const rss = Number(text.match(/^process_resident_memory_bytes (\d+)$/m)?.[1]);
  assert.ok(rss > 0, `process_resident_memory_bytes: ${rss}`);
  assert.match(
    text,
    /^hopd_build_info\{version="9.9.9",deno="[^"]+",v8="[^"]+",typescript="[^"]+"\} 1$/m,
  );
  const bare = await createRegistry({ version: "9.9.9", defaultMetrics: false }).metrics();
  assert.doesNotMatch(bare, /^process_/m);
});

Deno.test("prom-client is imported by src/metrics alone: components see hopd's metric types", async () => {
  const src = new URL("../", import.meta.url);
  const importers: string[] = [];
  async function walk(dir: URL, path: string): Promise<void> {
    for await (const entry of Deno.readDir(dir)) {
      const name = `${path}${entry.name}`;
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir), `${name}/`);
      else if (/\.ts$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) {
        const text = await Deno.readTextFile(new URL(entry.name, dir));
        if (/from "prom-client[/"]|import\("prom-client[/"]/.test(text)) importers.push(name);
      }
    }
  }
  await walk(src, "");
  assert.deepEqual(importers.sort(), ["metrics/mod.ts"]);
});
