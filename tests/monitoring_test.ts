// The monitoring kit (monitoring/): Prometheus alert rules pass `promtool check rules` and
// their unit tests, the Grafana dashboard is what its builder makes and is well formed, and
// every metric a rule or panel queries is one a running hopd exports (or one agreed in the
// team's metric contract for a component still being built).

import assert from "node:assert/strict";
import { buildDashboard } from "../monitoring/grafana/build_dashboard.ts";
import { REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";
import { scrapeMetrics } from "./_helpers/ops_probe.ts";

const RULES = "monitoring/prometheus/hopd.rules.yml";
const RULE_TESTS = "monitoring/prometheus/hopd.rules.test.yml";
const DASHBOARD = "monitoring/grafana/hopd.json";

/**
 * Metrics agreed for components being built (policy engine, federation): rules and panels
 * may use them before they appear in /metrics.
 */
const CONTRACT_METRICS = new Set([
  "hopd_health_status",
  "hopd_policy_evaluations_total",
  "hopd_policy_evaluation_seconds",
  "hopd_policy_errors_total",
  "hopd_policy_reloads_total",
  "hopd_policies_loaded",
  "hopd_policy_actions_total",
  "hopd_policy_restart_budget_exhausted",
  "hopd_policy_worker_restarts_total",
  "hopd_alerts_total",
  "hopd_alert_deliveries_total",
  "hopd_plugin_calls_total",
  "hopd_federation_members",
  "hopd_federation_reports_received_total",
  "hopd_federation_reports_rejected_total",
  "hopd_federation_view_staleness_seconds",
  "hopd_balancer_selections_total",
  // Federation metrics beyond the contract (src/federation/metrics.ts), registered only when
  // [federation] is enabled.
  "hopd_federation_connected_members",
  "hopd_federation_reports_sent_total",
  "hopd_balancer_score_hook_calls_total",
  "hopd_federation_member_dials_total",
  "hopd_federation_select_stream_errors_total",
  // Policy engine's plugin latency (src/policy/metrics.ts).
  "hopd_plugin_call_seconds",
]);

/** Metrics exported only in some configurations, with the file that registers each. */
const CONDITIONAL_METRICS: Record<string, string> = {
  hopd_tls_certificate_expiry_timestamp_seconds: "src/host/metrics.ts",
  hopd_acme_consecutive_failures: "src/acme/metrics.ts",
  hopd_acme_orders_total: "src/acme/metrics.ts",
};

/** Series Prometheus itself makes. */
const PROMETHEUS_SERIES = new Set(["up"]);

const PROMQL_WORDS = new Set([
  "sum",
  "by",
  "rate",
  "increase",
  "histogram_quantile",
  "max",
  "max_over_time",
  "and",
  "or",
  "offset",
  "absent",
  "changes",
  "time",
  "le",
  "job",
  "instance",
]);

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(cmd, { args, cwd: REPO_ROOT, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    out: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

/** Every `expr:` of the rules file (inline or `|` block). */
function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split("\n");
  const exprs: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (match === null) continue;
    if (match[2] !== "|") {
      exprs.push(match[2]!);
      continue;
    }
    const block: string[] = [];
    const indent = match[1]!.length;
    while (i + 1 < lines.length) {
      const next = lines[i + 1]!;
      if (next.trim() !== "" && next.length - next.trimStart().length <= indent) break;
      block.push(next.trim());
      i++;
    }
    exprs.push(block.join(" "));
  }
  return exprs;
}

/** Metric names an expression reads: identifiers outside `{...}`, minus PromQL words. */
function metricNames(expr: string): string[] {
  const outsideSelectors = expr.replace(/\{[^}]*\}/g, " ").replace(/\[[^\]]*\]/g, " ")
    .replace(/"[^"]*"/g, " ").replace(/\b\d+(ms|[smhdwy])\b/g, " ");
  const names = outsideSelectors.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  const byClause = /\b(?:by|without)\s*\(([^)]*)\)/g;
  const labels = new Set<string>();
  for (const m of expr.matchAll(byClause)) {
    for (const l of m[1]!.split(",")) labels.add(l.trim());
  }
  return names.filter((n) => !PROMQL_WORDS.has(n) && !labels.has(n) && !/^\d/.test(n));
}

/** The family a series name belongs to (histogram parts map to the histogram). */
function family(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, "");
}

async function liveFamilies(): Promise<Set<string>> {
  const hopd = await spawnHopd();
  try {
    const samples = await scrapeMetrics(hopd.opsUrl);
    // Every registered family has a TYPE line, even a labelled counter not yet incremented.
    const text = await (await fetch(`${hopd.opsUrl}/metrics`)).text();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    // prom-client's /proc readers give 0 under hopd's permission set; hopd replaces RSS.
    assert.ok(
      (samples.get("process_resident_memory_bytes") ?? 0) > 10_000_000,
      "process_resident_memory_bytes must be the real RSS, not 0",
    );
    return families;
  } finally {
    await hopd.stop();
  }
}

Deno.test("promtool check rules accepts the alert rules", async () => {
  const { code, out } = await run("promtool", ["check", "rules", RULES]);
  assert.equal(code, 0, out);
  assert.match(out, /SUCCESS: \d+ rules found/);
});

Deno.test("promtool test rules: every alert fires and stays quiet when it should", async () => {
  const { code, out } = await run("promtool", ["test", "rules", RULE_TESTS]);
  assert.equal(code, 0, out);
  assert.match(out, /SUCCESS/);
  const rules = await Deno.readTextFile(`${REPO_ROOT}${RULES}`);
  const tests = await Deno.readTextFile(`${REPO_ROOT}${RULE_TESTS}`);
  for (const [, alert] of rules.matchAll(/- alert: (\w+)/g)) {
    assert.match(tests, new RegExp(`alertname: ${alert}\\n`), `no unit test fires ${alert}`);
  }
});

Deno.test("every alert names a runbook section that exists in docs/OPERATIONS.md", async () => {
  const rules = await Deno.readTextFile(`${REPO_ROOT}${RULES}`);
  const operations = await Deno.readTextFile(`${REPO_ROOT}docs/OPERATIONS.md`);
  const anchors = new Set(
    [...operations.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, "").replace(/ /g, "-")
    ),
  );
  const runbooks = [...rules.matchAll(/runbook: docs\/OPERATIONS\.md#([a-z0-9-]+)/g)];
  assert.equal(runbooks.length, [...rules.matchAll(/- alert: /g)].length);
  for (const [, anchor] of runbooks) {
    assert.ok(anchors.has(anchor!), `docs/OPERATIONS.md has no section #${anchor}`);
  }
});

Deno.test("the Grafana dashboard is what build_dashboard.ts makes, and is well formed", async () => {
  const dashboard = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}${DASHBOARD}`));
  assert.deepEqual(dashboard, JSON.parse(JSON.stringify(buildDashboard())));
  assert.equal(typeof dashboard.uid, "string");
  assert.equal(typeof dashboard.title, "string");
  assert.ok(dashboard.schemaVersion >= 36);
  const variables = new Set(
    dashboard.templating.list.map((v: { name: string }) => v.name),
  );
  const ids = new Set<number>();
  const cells = new Set<string>();
  const rows: string[] = [];
  for (const panel of dashboard.panels) {
    assert.ok(!ids.has(panel.id), `panel id ${panel.id} used twice`);
    ids.add(panel.id);
    assert.ok(["row", "timeseries", "stat", "heatmap"].includes(panel.type), panel.type);
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `${panel.title}: gridPos ${x},${w}`);
    for (let i = x; i < x + w; i++) {
      for (let j = y; j < y + h; j++) {
        assert.ok(!cells.has(`${i},${j}`), `${panel.title} overlaps another panel`);
        cells.add(`${i},${j}`);
      }
    }
    if (panel.type === "row") {
      rows.push(panel.title);
      continue;
    }
    assert.equal(panel.datasource.uid, "${datasource}");
    assert.ok(panel.targets.length > 0, `${panel.title} has no query`);
    const refIds = new Set(panel.targets.map((t: { refId: string }) => t.refId));
    assert.equal(refIds.size, panel.targets.length);
    for (const target of panel.targets) {
      for (const [, variable] of target.expr.matchAll(/\$(\w+)/g)) {
        if (variable.startsWith("__")) continue;
        assert.ok(variables.has(variable), `${panel.title}: undefined variable $${variable}`);
      }
    }
  }
  for (
    const row of [
      "Relay health",
      "Reservations",
      "Circuits",
      "Bandwidth",
      "Circuit setup latency",
      "Limiter",
      "Policies",
      "Federation",
    ]
  ) {
    assert.ok(rows.includes(row), `no "${row}" row`);
  }
  assert.ok(
    dashboard.panels.some((p: { type: string; targets?: { expr: string }[] }) =>
      p.type === "heatmap" && p.targets![0]!.expr.includes("hopd_circuit_setup_seconds_bucket")
    ),
    "no setup-latency heatmap",
  );
});

Deno.test("rules and panels query only metrics hopd exports or the contracts name", async () => {
  const live = await liveFamilies();
  const rules = await Deno.readTextFile(`${REPO_ROOT}${RULES}`);
  const dashboard = buildDashboard() as { panels: { targets?: { expr: string }[] }[] };
  const exprs = [
    ...ruleExpressions(rules),
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ];
  assert.ok(exprs.length > 40, `only ${exprs.length} expressions found`);
  const used = new Set(exprs.flatMap(metricNames));
  for (const name of used) {
    if (live.has(name) || live.has(family(name)) || PROMETHEUS_SERIES.has(name)) continue;
    if (CONTRACT_METRICS.has(family(name))) continue;
    const source = CONDITIONAL_METRICS[name];
    if (source !== undefined) {
      const text = await Deno.readTextFile(`${REPO_ROOT}${source}`);
      assert.ok(text.includes(`"${name}"`), `${source} no longer registers ${name}`);
      continue;
    }
    assert.fail(`${name} is neither exported by hopd nor in the metric contract`);
  }
  // The dashboard shows every hopd_* metric a running node exports.
  const shown = new Set(
    dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)))
      .map(family),
  );
  for (const name of live) {
    if (!name.startsWith("hopd_") || name !== family(name)) continue;
    assert.ok(shown.has(name), `the dashboard has no panel for ${name}`);
  }
});
