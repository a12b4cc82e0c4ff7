// Serves the bundled browser client (client.ts) and its page on 127.0.0.1 port 0, and
// collects what the page POSTs to /report. Used by tests/relay_browser_test.ts.
import { REPO_ROOT } from "../_helpers/hopd_process.ts";
import type { BrowserReport } from "./client.ts";

const CLIENT_ENTRY = new URL("./client.ts", import.meta.url).pathname;

const PAGE_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>hopd browser relay client</title></head>
<body>
<h1>hopd browser relay client</h1>
<pre id="status">starting</pre>
<script type="module" src="/client.js"></script>
</body>
</html>
`;

/** A running page server. */
export interface PageServer {
  /** Base URL, e.g. http://127.0.0.1:40211 */
  readonly url: string;
  /** Every report the page has POSTed, oldest first. */
  readonly reports: readonly BrowserReport[];
  /** Resolves with the first report that satisfies `predicate` (or throws on a report with an error). */
  waitForReport(
    predicate: (report: BrowserReport) => boolean,
    timeoutMs: number,
  ): Promise<BrowserReport>;
  close(): Promise<void>;
}

/**
 * Bundles client.ts for the browser with `deno bundle --platform browser`.
 *
 * @returns The bundled JavaScript.
 * @throws {Error} If the bundler fails; the message holds its output.
 */
export async function bundleClient(): Promise<string> {
  const outDir = await Deno.makeTempDir({ prefix: "hopd-browser-bundle-" });
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--format",
        "esm",
        "--output",
        `${outDir}/client.js`,
        CLIENT_ENTRY,
      ],
      cwd: REPO_ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    if (!output.success) {
      const decoder = new TextDecoder();
      throw new Error(
        `deno bundle failed with code ${output.code}:\n${decoder.decode(output.stdout)}${
          decoder.decode(output.stderr)
        }`,
      );
    }
    return await Deno.readTextFile(`${outDir}/client.js`);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
}

/** Serves `bundle` as /client.js and the page as /, and collects POST /report bodies. */
export function servePage(bundle: string): PageServer {
  const reports: BrowserReport[] = [];
  const listeners = new Set<() => void>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/") {
      return new Response(PAGE_HTML, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (request.method === "GET" && pathname === "/client.js") {
      return new Response(bundle, {
        headers: { "content-type": "text/javascript; charset=utf-8" },
      });
    }
    if (request.method === "POST" && pathname === "/report") {
      reports.push(await request.json() as BrowserReport);
      for (const listener of listeners) listener();
      return new Response(null, { status: 204 });
    }
    return new Response("not found", { status: 404 });
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    reports,
    waitForReport(predicate, timeoutMs) {
      const { promise, resolve, reject } = Promise.withResolvers<BrowserReport>();
      const check = () => {
        const failed = reports.find((r) => r.error !== undefined);
        if (failed !== undefined) {
          reject(new Error(`the browser client failed: ${failed.error}`));
          return;
        }
        const found = reports.find(predicate);
        if (found !== undefined) resolve(found);
      };
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching report from the browser within ${timeoutMs} ms; reports: ${
                JSON.stringify(reports)
              }`,
            ),
          ),
        timeoutMs,
      );
      listeners.add(check);
      check();
      return promise.finally(() => {
        clearTimeout(timer);
        listeners.delete(check);
      });
    },
    async close() {
      await server.shutdown();
    },
  };
}
