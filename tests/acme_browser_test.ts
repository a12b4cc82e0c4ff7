// The point of [acme]: a browser reaches hopd over WebSockets-secure with a certificate hopd
// got by itself. hopd orders hopd.test's certificate from Debian's pebble over http-01;
// headless chromium, trusting only pebble's root (an NSS database under a private HOME) and
// resolving hopd.test to 127.0.0.1, runs the stock js-libp2p browser client
// (tests/browser/client.ts), which reserves on hopd over the address hopd announces,
// /dns4/hopd.test/tcp/PORT/tls/ws/p2p/ID; a stock js-libp2p client in Node then dials the
// browser through hopd (over the same /dns4 /tls/ws address, trusting pebble's root) and
// echoes 1 MiB. Needs pebble, chromium and certutil: scripts/test_deps.sh installs them.
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";
import { metric } from "./_helpers/ops_probe.ts";
import { startPebble, withTestHosts } from "./_helpers/pebble.ts";
import { type Chromium, chromiumPath, launchChromium } from "./browser/chromium.ts";
import { bundleClient, type PageServer, servePage } from "./browser/page_server.ts";

const DOMAIN = "hopd.test";
const ONE_MIB = 1024 * 1024;
/** Chromium start, page load, WSS dial and reservation; generous for a loaded 2-core CI box. */
const RESERVATION_TIMEOUT_MS = 30_000;
const ORDER_TIMEOUT_MS = 30_000;

Deno.test("headless chromium trusting pebble's root reserves on hopd over /dns4/hopd.test/tcp/PORT/tls/ws and a Node client reaches it through hopd", async () => {
  chromiumPath();
  const pebble = await startPebble();
  const [hopd, bundle] = await Promise.all([
    spawnHopd({
      loopbackListeners: false,
      args: ["--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws"],
      env: {
        HOPD_ACME_ENABLED: "true",
        HOPD_ACME_DOMAINS: DOMAIN,
        HOPD_ACME_DIRECTORY: pebble.directoryUrl,
        HOPD_ACME_DIRECTORY_CA_FILE: pebble.directoryCaFile,
        HOPD_ACME_HTTP_LISTEN: `127.0.0.1:${pebble.httpPort}`,
        HOPD_RELAY_CIRCUIT_DATA: "0",
        HOPD_RELAY_CIRCUIT_DURATION: "0",
      },
    }),
    bundleClient(),
  ]);
  let page: PageServer | undefined;
  let browser: Chromium | undefined;
  try {
    // hopd's line for the issued certificate, logged once the order is counted.
    await hopd.waitForLog(
      (record) => String(record.message).startsWith("ACME: new certificate for"),
      ORDER_TIMEOUT_MS,
    ).catch((error) => {
      throw new Error(`hopd got no certificate from pebble:\n${pebble.log().slice(-3000)}`, {
        cause: error,
      });
    });
    assert.equal(await metric(hopd.opsUrl, "hopd_acme_orders_total", { result: "ok" }), 1);
    const root = await pebble.root();
    const rootFile = join(pebble.dir, "root.pem");
    await Deno.writeTextFile(rootFile, root);
    const status = await (await fetch(`${hopd.opsUrl}/v1/status`)).json();
    const relayWss = status.listen.find((a: string) => a.startsWith(`/dns4/${DOMAIN}/`));
    assert.ok(relayWss, `hopd announces no /dns4/${DOMAIN} address: ${status.listen.join(", ")}`);
    assert.match(relayWss, /^\/dns4\/hopd\.test\/tcp\/\d+\/tls\/ws\/p2p\//);

    page = servePage(bundle);
    browser = await launchChromium(`${page.url}/?relay=${encodeURIComponent(relayWss)}`, {
      trustRoot: root,
      args: [`--host-resolver-rules=MAP ${DOMAIN} 127.0.0.1`],
    });
    const reserved = await page.waitForReport(
      (r) => r.circuitAddr !== undefined,
      RESERVATION_TIMEOUT_MS,
    ).catch((error) => {
      throw new Error(`${error.message}\n--- chromium output ---\n${browser?.output()}`);
    });
    assert.match(reserved.userAgent, /Chrome\//);
    const circuitAddr = reserved.circuitAddr!;
    assert.ok(
      circuitAddr.startsWith(`${relayWss}/p2p-circuit/p2p/`),
      `the browser's circuit address ${circuitAddr} is not behind ${relayWss}`,
    );

    // Node dials the browser through hopd by the same name, trusting only pebble's root.
    const [command, args] = await withTestHosts([DOMAIN], "node", [
      "tests/interop/node_dial_echo.mjs",
      circuitAddr,
      String(ONE_MIB),
    ]);
    const output = await new Deno.Command(command, {
      args,
      cwd: REPO_ROOT,
      env: { NODE_EXTRA_CA_CERTS: rootFile },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(output.stdout).trim();
    const result = JSON.parse(text.split("\n").at(-1) ?? "{}");
    assert.equal(
      result.error,
      undefined,
      `${result.error}\n${new TextDecoder().decode(output.stderr)}`,
    );
    assert.match(result.runtime, /^node v/);
    assert.equal(result.received, ONE_MIB);
    assert.ok(result.intact, "echoed bytes differ from sent bytes");
    assert.match(result.relayAddr, /^\/dns4\/hopd\.test\/tcp\/\d+\/tls\/ws/);
    const echoed = await page.waitForReport((r) => r.echoed >= ONE_MIB, 10_000);
    assert.equal(echoed.echoed, ONE_MIB);
  } finally {
    await browser?.close();
    await page?.close();
    assert.equal((await hopd.stop()).code, 0);
    await pebble.stop();
  }
});
