import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MetricsRegistry } from "../metrics/mod.ts";
import { createOpsApp } from "./mod.ts";
import { buildStatusPage, inlineScript } from "./status_page_routes.ts";
import main from "./status_page.js" with { type: "text" };
import model from "./status_page_model.js" with { type: "text" };
import {
  addSample,
  chartModel,
  formatBytes,
  formatDuration,
  niceCeiling,
  rateSeries,
  str,
  tlsRows,
} from "./status_page_model.js";

const script = inlineScript({ model, main });

const REMOTE: { remoteAddr: Deno.NetAddr } = {
  remoteAddr: { transport: "tcp", hostname: "203.0.113.7", port: 5000 },
};

function app() {
  return createOpsApp({
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    admin: {
      control: {} as never,
      auth: () => ({ token: "secret", allowRemote: false, maxBodyBytes: 1024 }),
      parseDurationMs: () => undefined,
    },
    // Every /v1 call refused: the page itself is not behind the limiter.
    httpAdmission: () => ({ ok: false }),
  });
}

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
}

Deno.test("GET / serves the page to anyone, with a CSP that allows only its own inline code", async () => {
  const response = await app().request("/", {}, REMOTE);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  const html = await response.text();
  assert.ok(!html.includes("secret"));

  const csp = new Map(
    (response.headers.get("content-security-policy") ?? "").split(/;\s*/).map((d) => {
      const [name, ...values] = d.split(" ");
      return [name!, values.join(" ")];
    }),
  );
  assert.equal(csp.get("default-src"), "'self'");
  const inlineScripts = [...html.matchAll(/<script type="module">([\s\S]*?)<\/script>/g)];
  const inlineStyles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)];
  assert.equal(inlineScripts.length, 1);
  assert.equal(inlineStyles.length, 1);
  assert.equal(csp.get("script-src"), sha256(inlineScripts[0]![1]!));
  assert.equal(csp.get("style-src"), sha256(inlineStyles[0]![1]!));
  assert.equal(csp.get("frame-ancestors"), "'none'");
});

Deno.test("the status page loads no external asset and never builds markup from data", () => {
  const { html } = buildStatusPage();
  assert.doesNotMatch(html, /<link\b|<img\b|<iframe\b|\bsrc=|@import|url\(/i);
  // Every link is to one of the node's own routes.
  for (const [, href] of html.matchAll(/href="([^"]*)"/g)) assert.match(href!, /^\/[\w/.]*$/);
  assert.doesNotMatch(
    script,
    /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|setAttribute\("(on|href|style)/,
  );
  // It fetches the node's own routes (same origin) through getJson(), nothing else.
  assert.equal(script.match(/\bfetch\(/g)?.length, 1);
  const paths = [...script.matchAll(/getJson\(["`]([^"`]*)["`]\)/g)].map((m) => m[1]);
  assert.equal(paths.length, 4);
  for (const path of paths) assert.match(path!, /^\/v1\/[a-z]+(\?|$)/);
});

Deno.test("the page's two script files join into one module that loads", async () => {
  assert.ok(script.startsWith(model));
  assert.doesNotMatch(script, /^\s*import\b/m);
  // Evaluating it as a module catches a syntax error or a name declared in both files; out
  // of a browser it defines its functions and starts nothing.
  const loaded = await import(`data:text/javascript,${encodeURIComponent(script)}`);
  assert.equal(loaded.formatBytes(2048), "2.00 KiB");
  assert.throws(() => inlineScript({ model, main: "const a = 1;" }), /must import/);
  assert.throws(
    () =>
      inlineScript({ model: 'import "x";', main: 'import { a } from "./status_page_model.js";\n' }),
    /nothing but/,
  );
});

Deno.test("buildStatusPage() refuses a script or style that would end its element early", () => {
  const template = "<html><!-- hopd:style --><!-- hopd:script --></html>";
  assert.throws(() => buildStatusPage({ template, css: "", script: "'</script>'" }), /<\/script/);
  assert.throws(() => buildStatusPage({ template, css: "a{}</STYLE>", script: "" }), /<\/style/);
  assert.throws(
    () => buildStatusPage({ template: "<html></html>", css: "", script: "" }),
    /marker/,
  );
  const page = buildStatusPage({ template, css: "b{}", script: "1" });
  assert.equal(page.html, '<html><style>b{}</style><script type="module">1</script></html>');
});

Deno.test("status page formatting helpers", async (t) => {
  await t.step("formatBytes", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(1023), "1023 B");
    assert.equal(formatBytes(1536), "1.50 KiB");
    assert.equal(formatBytes(50 * 1024 * 1024), "50.0 MiB");
    assert.equal(formatBytes(3 * 1024 ** 4), "3.00 TiB");
    assert.equal(formatBytes(-1), "—");
    assert.equal(formatBytes("12"), "—");
  });
  await t.step("formatDuration", () => {
    assert.equal(formatDuration(0), "0s");
    assert.equal(formatDuration(0.4), "0.4s");
    assert.equal(formatDuration(59), "59s");
    assert.equal(formatDuration(3_600), "1h");
    assert.equal(formatDuration(93_784), "1d 2h");
    assert.equal(formatDuration(125), "2m 5s");
    assert.equal(formatDuration(undefined), "—");
  });
  await t.step("str never passes objects through", () => {
    assert.equal(str("<b>x</b>"), "<b>x</b>"); // rendered with textContent, so inert
    assert.equal(str({ toString: () => "x" }), "—");
    assert.equal(str(null), "—");
    assert.equal(str(true), "yes");
  });
});

Deno.test("bandwidth history keeps the window, restarts on a counter reset, and gives rates", () => {
  let history: { tMs: number; bytes: number }[] = [];
  for (let i = 0; i <= 5; i++) {
    history = addSample(history, { tMs: i * 1_000, bytes: i * 2_048 }, 3_000);
  }
  assert.deepEqual(history.map((s) => s.tMs), [2_000, 3_000, 4_000, 5_000]);
  assert.deepEqual(rateSeries(history).map((r) => r.bytesPerSecond), [2_048, 2_048, 2_048]);
  // A sample at the same time is ignored; a smaller counter means hopd restarted.
  assert.equal(addSample(history, { tMs: 5_000, bytes: 99_999 }, 3_000), history);
  assert.deepEqual(addSample(history, { tMs: 6_000, bytes: 10 }, 3_000), [{
    tMs: 6_000,
    bytes: 10,
  }]);
});

Deno.test("chartModel() scales rates into the chart box with round tick labels", () => {
  assert.equal(niceCeiling(0), 1024);
  assert.equal(niceCeiling(1_500), 2 * 1024);
  assert.equal(niceCeiling(3 * 1024 * 1024), 5 * 1024 * 1024);
  assert.equal(niceCeiling(600 * 1024), 1024 * 1024);
  const box = { width: 110, height: 120, left: 10, right: 0, top: 10, bottom: 10 };
  const rates = [
    { tMs: 0, bytesPerSecond: 0 },
    { tMs: 50_000, bytesPerSecond: 1_024 },
    { tMs: 100_000, bytesPerSecond: 2_048 },
  ];
  const model = chartModel(rates, 100_000, 100_000, box);
  assert.equal(model.max, 2_048);
  assert.equal(model.peak, 2_048);
  assert.deepEqual(model.points, [[10, 110], [60, 60], [110, 10]]);
  assert.deepEqual(model.ticks.map((t: { label: string }) => t.label), [
    "0 B/s",
    "1.00 KiB/s",
    "2.00 KiB/s",
  ]);
  // Older than the span: clamped to the left edge.
  assert.deepEqual(chartModel([{ tMs: -5_000, bytesPerSecond: 0 }], 100_000, 100_000, box).points, [
    [
      10,
      110,
    ],
  ]);
});

Deno.test("tlsRows() shows the certificate, its expiry and the ACME state; nothing without TLS", () => {
  const nowMs = Date.parse("2030-01-01T00:00:00Z");
  assert.deepEqual(tlsRows(undefined, nowMs), []);
  const rows = tlsRows({
    certificate: {
      source: "acme",
      domains: ["relay.example.com"],
      issuer: "R11",
      notAfter: "2030-01-31T00:00:00.000Z",
    },
    acme: {
      state: "waiting",
      consecutiveFailures: 2,
      lastError: "connect ECONNREFUSED",
      nextOrderAt: "2030-01-01T00:02:00.000Z",
    },
  }, nowMs);
  assert.deepEqual(rows, [
    ["TLS certificate", "tlsCertificate", "relay.example.com (acme, R11)"],
    ["Certificate expires", "tlsExpiry", "2030-01-31T00:00:00.000Z (in 30d)"],
    [
      "ACME",
      "acme",
      "2 failed in a row: connect ECONNREFUSED, next order 2030-01-01T00:02:00.000Z",
    ],
  ]);
  assert.deepEqual(tlsRows({ acme: { state: "ordering", consecutiveFailures: 0 } }, nowMs), [
    ["TLS certificate", "tlsCertificate", "none yet (ACME order pending)"],
    ["ACME", "acme", "ordering"],
  ]);
});
