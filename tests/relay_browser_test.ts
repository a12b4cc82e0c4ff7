// End-to-end relay test with a real browser: a stock js-libp2p client bundled for the browser
// (tests/browser/client.ts) runs in Debian's headless chromium, reserves on the real hopd
// program over WebSockets, and a stock js-libp2p client in this process dials it through hopd
// over TCP. Needs chromium: run scripts/test_deps.sh first (this test never
// installs anything, and fails rather than skips when chromium is missing).
import { metric, transportAddr } from "./_helpers/ops_probe.ts";
import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import type { Libp2p } from "@libp2p/interface";
import { spawnHopd } from "./_helpers/hopd_process.ts";
import { chromiumPath, launchChromium } from "./browser/chromium.ts";
import type { Chromium } from "./browser/chromium.ts";
import { bundleClient, servePage } from "./browser/page_server.ts";
import type { PageServer } from "./browser/page_server.ts";
// @ts-types="./interop/relay_echo_client.d.ts"
import { createClient, ECHO_PROTOCOL, echoThrough } from "./interop/relay_echo_client.mjs";

const ONE_MIB = 1024 * 1024;
const UNLIMITED = { HOPD_RELAY_CIRCUIT_DATA: "0", HOPD_RELAY_CIRCUIT_DURATION: "0" };
/** Chromium start, page load, WS dial and reservation; generous for a loaded 2-core CI box. */
const RESERVATION_TIMEOUT_MS = 30_000;
const ECHO_REPORT_TIMEOUT_MS = 10_000;

Deno.test("a js-libp2p client in headless chromium reserves on hopd over WS and is dialed through it over TCP", async () => {
  // Fail first, and clearly, when the browser is missing.
  chromiumPath();
  const [hopd, bundle] = await Promise.all([spawnHopd({ env: UNLIMITED }), bundleClient()]);
  let page: PageServer | undefined;
  let browser: Chromium | undefined;
  let dialer: Libp2p | undefined;
  try {
    page = servePage(bundle);
    const relayWs = transportAddr(hopd.listenAddrs, "ws");
    browser = await launchChromium(`${page.url}/?relay=${encodeURIComponent(relayWs)}`);

    const reserved = await page.waitForReport(
      (r) => r.circuitAddr !== undefined,
      RESERVATION_TIMEOUT_MS,
    ).catch((error) => {
      throw new Error(`${error.message}\n--- chromium output ---\n${browser?.output()}`);
    });
    assert.match(reserved.userAgent, /Chrome\//);
    const circuitAddr = reserved.circuitAddr!;
    // The browser's address names hopd as its relay, reached over WS.
    assert.ok(
      circuitAddr.startsWith(`${relayWs}/p2p-circuit/p2p/`),
      `unexpected circuit address ${circuitAddr}`,
    );
    const browserPeerId = circuitAddr.slice(circuitAddr.lastIndexOf("/p2p/") + "/p2p/".length);

    const status = await (await fetch(`${hopd.opsUrl}/v1/status`)).json();
    assert.ok(
      status.relay.reservations >= 1,
      `hopd reports ${status.relay.reservations} reservations`,
    );

    // Same relay, other transport: the dialer reaches hopd over TCP.
    const throughTcp = `${transportAddr(hopd.listenAddrs, "tcp")}/p2p-circuit/p2p/${browserPeerId}`;
    dialer = await createClient();
    const stream = await dialer.dialProtocol(multiaddr(throughTcp), ECHO_PROTOCOL, {
      runOnLimitedConnection: true,
    });
    const result = await echoThrough(stream, ONE_MIB);
    assert.equal(result.received, ONE_MIB);
    assert.ok(result.intact, "echoed bytes differ from sent bytes");

    // The browser itself echoed the bytes, and they crossed hopd both ways.
    const echoed = await page.waitForReport((r) => r.echoed >= ONE_MIB, ECHO_REPORT_TIMEOUT_MS);
    assert.equal(echoed.echoed, ONE_MIB);
    const relayed = await metric(hopd.opsUrl, "hopd_relayed_bytes_total");
    assert.ok(relayed >= 2 * ONE_MIB, `hopd_relayed_bytes_total is ${relayed}`);
  } finally {
    await Promise.allSettled([dialer?.stop(), browser?.close()]);
    await page?.close();
    assert.equal((await hopd.stop()).code, 0);
  }
});
