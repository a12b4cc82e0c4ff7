/**
 * Browser entry for `tests/relay_browser_test.ts`: a stock js-libp2p node (none of hopd's
 * code) that reserves a slot on hopd over WebSockets and serves the echo protocol behind it.
 *
 * The page is opened as `index.html?relay=<hopd ws multiaddr>`. Progress is published three
 * ways: `window.hopdTest`, the `#status` element, and a JSON POST to `/report` on the page's
 * own server, which is how the test (driving chromium without any automation library) hears it.
 *
 * The test bundles this file with `deno bundle --platform browser` at run time.
 *
 * @module
 */
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { identify } from "@libp2p/identify";
import type { Stream } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { createLibp2p } from "libp2p";

/** Same protocol id as `tests/interop/relay_echo_client.mjs`. */
const ECHO_PROTOCOL = "/hopd-test/echo/1.0.0";

/** What the page publishes; the test reads the POSTed copy. */
export interface BrowserReport {
  /** The node's /p2p-circuit multiaddr once hopd has granted the reservation. */
  circuitAddr?: string;
  /** Bytes echoed back over finished echo streams. */
  echoed: number;
  /** Echo streams that finished cleanly. */
  streams: number;
  error?: string;
  userAgent: string;
}

/**
 * The slice of the DOM this page uses. Declared here rather than through `lib: ["dom"]`, which
 * would leak DOM globals into every file `deno check` checks alongside this one.
 */
interface PageGlobals {
  hopdTest: BrowserReport;
  document: { getElementById(id: string): { textContent: string | null } | null };
}
const page = globalThis as unknown as PageGlobals;

const report: BrowserReport = { echoed: 0, streams: 0, userAgent: navigator.userAgent };
page.hopdTest = report;

/** Publishes the current state on the page and to the test server. */
async function publish(): Promise<void> {
  const status = page.document.getElementById("status");
  if (status !== null) status.textContent = JSON.stringify(report);
  try {
    await fetch("/report", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(report),
    });
  } catch (error) {
    // The test may already be gone; the page's copy is still there.
    console.warn("cannot report to the test server", error);
  }
}

/** Echoes every chunk back; counts bytes so the test can tell the browser really served it. */
async function echo(stream: Stream): Promise<void> {
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      bytes += chunk.byteLength;
      if (!stream.send(chunk)) await stream.onDrain();
    }
    await stream.close();
    report.echoed += bytes;
    report.streams += 1;
  } catch (error) {
    report.error = `echo stream failed after ${bytes} bytes: ${String(error)}`;
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
  await publish();
}

async function main(): Promise<void> {
  const relayAddr = new URL(location.href).searchParams.get("relay");
  if (relayAddr === null || relayAddr === "") {
    throw new TypeError("Cannot start as the page URL has no 'relay' query parameter");
  }
  const node = await createLibp2p({
    addresses: { listen: [`${relayAddr}/p2p-circuit`] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    // The browser's default gater refuses loopback and private addresses; hopd is on 127.0.0.1.
    connectionGater: { denyDialMultiaddr: () => false },
  });
  await node.handle(ECHO_PROTOCOL, echo, { runOnLimitedConnection: true });
  // A /p2p-circuit address appears only once the relay has granted the reservation; libp2p
  // tells of each change of the node's own addresses (the test bounds the wait).
  report.circuitAddr = await new Promise<string>((resolve) => {
    const check = () => {
      const circuit = node.getMultiaddrs().find((ma) => ma.toString().includes("/p2p-circuit"));
      if (circuit === undefined) return;
      node.removeEventListener("self:peer:update", check);
      resolve(circuit.toString());
    };
    node.addEventListener("self:peer:update", check);
    check();
  });
  await publish();
}

main().catch(async (error) => {
  report.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  await publish();
});
