// End-to-end check of the status page (GET /) in Debian's headless chromium: the real hopd
// program holds one reservation and one circuit carrying a trickle of bytes while chromium
// loads the page, runs its script for a few virtual seconds under the page's CSP, and then
// (a) dumps the DOM, which must show the node's real peer ID, the counts, the bandwidth
// chart and the federation/policy panels in the state their routes imply, and (b) takes a
// screenshot, which must be a 1280x1600 PNG with rendered content. The screenshot and the
// DOM are kept in bench/.out/status_page/ (printed in the log). Needs chromium: run
// scripts/test_deps.sh first (this test fails rather than skips when it is missing).
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Libp2p, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";
import { transportAddr } from "./_helpers/ops_probe.ts";
import { decodePng, pixelStats } from "./_helpers/png.ts";
import { SINK_PROTOCOL, type SinkTarget, startSinkTarget } from "./_helpers/relay_traffic.ts";
import { Validator } from "@seriousme/openapi-schema-validator";
import { chromiumPath } from "./browser/chromium.ts";
import { type CaptureOptions, dumpDom, screenshot } from "./browser/headless_capture.ts";
// @ts-types="./interop/relay_echo_client.d.ts"
import { createClient } from "./interop/relay_echo_client.mjs";

const UNLIMITED = { HOPD_RELAY_CIRCUIT_DATA: "0", HOPD_RELAY_CIRCUIT_DURATION: "0" };
const WINDOW: [number, number] = [1280, 1600];
/** Status polls at 0, 2, 4, 6 and 8 s of page time: four bandwidth rates. */
const CAPTURE: CaptureOptions = { virtualTimeBudgetMs: 9_000, windowSize: WINDOW };
const TRICKLE_CHUNK_BYTES = 16_384;
const TRICKLE_INTERVAL_MS = 20;
const ARTIFACT_DIR = join(REPO_ROOT, "bench/.out/status_page");

/** Sends a chunk every few ms until stopped: relayed bytes for the chart. */
function trickle(stream: Stream): { stop(): void } {
  const chunk = new Uint8Array(TRICKLE_CHUNK_BYTES);
  const timer = setInterval(() => {
    if (stream.writeStatus === "writable" && stream.writeBufferLength < 8 * chunk.length) {
      stream.send(chunk);
    }
  }, TRICKLE_INTERVAL_MS);
  return { stop: () => clearInterval(timer) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The opening tag of the element with `id` in the dumped DOM. */
function tagOf(dom: string, id: string): string {
  const match = new RegExp(`<[a-z]+\\b[^>]*\\bid="${escapeRegExp(id)}"[^>]*>`).exec(dom);
  assert.ok(match, `no element with id "${id}" in the page`);
  return match[0];
}

function attr(tag: string, name: string): string | undefined {
  return new RegExp(`\\b${escapeRegExp(name)}="([^"]*)"`).exec(tag)?.[1];
}

/** The text right inside the element whose `key="value"` attribute matches. */
function textAt(dom: string, key: string, value: string): string | undefined {
  return new RegExp(`\\b${key}="${escapeRegExp(value)}"[^>]*>([^<]*)<`).exec(dom)?.[1];
}

/** The panel state the page must show for an optional route. */
async function expectedPanel(
  opsUrl: string,
  path: string,
): Promise<{ state: "disabled" | "ready"; body?: Record<string, unknown> }> {
  const response = await fetch(`${opsUrl}${path}`);
  if (response.status === 404) {
    await response.body?.cancel();
    return { state: "disabled" };
  }
  assert.equal(response.status, 200, `${path} answered ${response.status}`);
  const body = await response.json();
  return { state: body.enabled === false ? "disabled" : "ready", body };
}

/**
 * Two policies for the "Recent actions" panel: `quiet` judges healthy and never acts, `wary`
 * judges degraded from its first tick (a verdict change, healthy → degraded, then nothing new).
 */
async function policiesDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-status-policies-" });
  await Deno.writeTextFile(
    join(dir, "quiet.js"),
    `export function evaluate() { return { verdict: "healthy" }; }`,
  );
  await Deno.writeTextFile(
    join(dir, "wary.js"),
    `export function evaluate() { return { verdict: "degraded", reasons: ["wary"] }; }`,
  );
  return dir;
}

Deno.test("the status page renders the live node in headless chromium (DOM and screenshot)", async (t) => {
  chromiumPath(); // fail first, and clearly, when the browser is missing
  const policies = await policiesDir();
  const hopd = await spawnHopd({
    // Debug: the engine logs each finished tick there.
    env: {
      ...UNLIMITED,
      HOPD_LOG_LEVEL: "debug",
      HOPD_POLICY_DIR: policies,
      HOPD_POLICY_TICK: "500ms",
    },
  });
  let target: SinkTarget | undefined;
  let dialer: Libp2p | undefined;
  let flow: { stop(): void } | undefined;
  try {
    target = await startSinkTarget(transportAddr(hopd.listenAddrs, "tcp"));
    dialer = await createClient();
    const stream = await dialer.dialProtocol(multiaddr(target.circuitAddr), SINK_PROTOCOL, {
      runOnLimitedConnection: true,
    });
    const status = async () => await (await fetch(`${hopd.opsUrl}/v1/status`)).json();
    // The target reserved before it had its circuit address, and hopd adds the circuit in the
    // same step as it answers the dial's OK: both are in /v1/status once the dial resolved.
    const { relay } = await status();
    assert.deepEqual(
      { reservations: relay.reservations, circuits: relay.circuits },
      { reservations: 1, circuits: 1 },
    );
    // A few ticks of both policies: quiet ones among them that "Recent actions" must leave out.
    // The engine logs the end of each tick at debug, its decisions in /v1/decisions by then.
    await hopd.waitForLog((r) =>
      String(r.message).startsWith("Policy tick ") &&
      Number((r.properties as { tick?: unknown } | undefined)?.tick) >= 2
    );
    const { decisions } = await (await fetch(`${hopd.opsUrl}/v1/decisions?limit=20`)).json();
    assert.ok(
      decisions.filter((d: { policy: string }) => d.policy === "quiet").length >= 2,
      "the policies did not tick",
    );
    flow = trickle(stream);
    await Deno.mkdir(ARTIFACT_DIR, { recursive: true });
    const pageUrl = `${hopd.opsUrl}/`;
    const screenshotPath = join(ARTIFACT_DIR, "status.png");
    await Deno.remove(screenshotPath).catch(() => {});
    // Both runs at once: chromium spends most of its start-up waiting.
    const [domRun, screenshotRun] = await Promise.allSettled([
      dumpDom(pageUrl, CAPTURE),
      screenshot(pageUrl, screenshotPath, CAPTURE),
    ]);

    await t.step("the DOM shows the node, the counts, the chart and every panel", async () => {
      if (domRun.status === "rejected") throw domRun.reason;
      const { stdout: dom, stderr } = domRun.value;
      await Deno.writeTextFile(join(ARTIFACT_DIR, "status.html"), dom);
      const context = `\n--- chromium log ---\n${stderr.slice(-3_000)}`;
      assert.doesNotMatch(stderr, /Content Security Policy|Uncaught/, `page errors${context}`);
      assert.equal(attr(tagOf(dom, "node-panel"), "data-state"), "ready", context);
      assert.match(dom, /<html[^>]*data-page-state="ready"/, `page never rendered${context}`);

      assert.equal(textAt(dom, "id", "node-peer-id"), hopd.peerId);
      assert.equal(textAt(dom, "data-field", "reservations"), "1");
      assert.equal(textAt(dom, "data-field", "circuits"), "1");
      for (const addr of hopd.listenAddrs) assert.ok(dom.includes(addr), `listen addr ${addr}`);

      const chart = tagOf(dom, "bandwidth-chart");
      assert.equal(attr(tagOf(dom, "bandwidth-panel"), "data-state"), "ready");
      assert.ok(Number(attr(chart, "data-points")) >= 2, `too few chart points: ${chart}`);
      assert.ok(Number(attr(chart, "data-peak-bytes-per-second")) > 0, `flat chart: ${chart}`);
      assert.match(dom, /<polyline class="line" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+/);

      const federation = await expectedPanel(hopd.opsUrl, "/v1/federation");
      assert.equal(attr(tagOf(dom, "federation-panel"), "data-state"), federation.state);
      if (federation.state === "disabled") {
        assert.match(textAt(dom, "id", "federation-note") ?? "", /not enabled/);
      } else {
        for (const member of federation.body!.members as { peerId: string }[]) {
          assert.ok(dom.includes(`data-peer="${member.peerId}"`), `member ${member.peerId}`);
        }
      }
      const policies = await expectedPanel(hopd.opsUrl, "/v1/policies");
      assert.equal(attr(tagOf(dom, "policies-panel"), "data-state"), policies.state);
      if (policies.state === "ready") {
        for (const policy of policies.body!.policies as { name: string }[]) {
          assert.ok(dom.includes(`data-policy="${policy.name}"`), `policy ${policy.name}`);
        }
      }
      const decisions = await expectedPanel(hopd.opsUrl, "/v1/decisions?limit=20");
      assert.equal(attr(tagOf(dom, "decisions-panel"), "data-state"), decisions.state);
      // "Recent actions" lists the verdict change (wary: healthy → degraded) and no quiet,
      // healthy, action-less tick.
      const rows = [...dom.matchAll(/data-decision="\d+-([a-z]+)"/g)].map((m) => m[1]);
      assert.deepEqual(rows, ["wary"], `decision rows: ${rows.join(", ")}${context}`);
      assert.match(textAt(dom, "id", "decisions-note") ?? "", /1 most recent actions and verdict/);
    });

    await t.step("the node's /openapi.json is valid and covers what the page reads", async () => {
      // Every route of the running node is in it (createOpsApp refuses otherwise); here the
      // document of the daemon's real set of groups must also be valid OpenAPI 3.1.
      const document = await (await fetch(`${hopd.opsUrl}/openapi.json`)).json();
      assert.deepEqual(await new Validator().validate(document), { valid: true });
      for (const path of ["/", "/v1/status", "/openapi.json"]) {
        assert.ok(document.paths[path]?.get, `GET ${path} missing from /openapi.json`);
      }
    });

    await t.step("the screenshot is a 1280x1600 PNG with rendered content", async () => {
      if (screenshotRun.status === "rejected") throw screenshotRun.reason;
      console.log(`status page screenshot: ${screenshotPath}`);
      const bytes = await Deno.readFile(screenshotPath);
      const png = decodePng(bytes);
      assert.deepEqual([png.width, png.height], WINDOW);
      // A blank page of this size compresses to a few KiB and has one colour.
      assert.ok(bytes.length > 30_000, `screenshot is only ${bytes.length} bytes`);
      const stats = pixelStats(png);
      assert.ok(stats.colors > 50, `only ${stats.colors} colours`);
      assert.ok(stats.foregroundShare > 0.05, `${stats.foregroundShare} of pixels drawn`);
    });
  } finally {
    flow?.stop();
    await Promise.allSettled([dialer?.stop(), target?.node.stop()]);
    assert.equal((await hopd.stop()).code, 0);
    await Deno.remove(policies, { recursive: true });
  }
});
