// WebSockets over TLS: hopd serves the configured certificate, a stock client pings it over
// /tls/ws, and SIGHUP swaps in a new certificate without a restart (a bad one is refused
// and the old one kept).
import { metric } from "./_helpers/ops_probe.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, runHopdCli, spawnHopd } from "./_helpers/hopd_process.ts";
import { makeTestCa } from "./_helpers/test_ca.ts";

async function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const text = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return text;
}

/** A throwaway CA and two leaf certificates for 127.0.0.1. */
async function makeCertificates(dir: string) {
  await makeTestCa(dir, [{ name: "one", days: 2 }, { name: "two", days: 3 }]);
}

async function servedSerial(port: number): Promise<string> {
  const pem = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    "localhost",
  ], "");
  return (await run("openssl", ["x509", "-noout", "-serial"], pem)).trim();
}

async function fileSerial(file: string): Promise<string> {
  return (await run("openssl", ["x509", "-noout", "-serial", "-in", file])).trim();
}

async function pingOverTls(addr: string, caFile: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tests/interop/ping_client.ts", addr],
    cwd: REPO_ROOT,
    env: { DENO_CERT: caFile },
    stdin: "null",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
}

Deno.test("hopd serves WebSockets over TLS and swaps the certificate on SIGHUP", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-tls-" });
  await makeCertificates(dir);
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  await Deno.copyFile(join(dir, "one.pem"), certFile);
  await Deno.copyFile(join(dir, "one.key"), keyFile);
  const hopd = await spawnHopd({
    loopbackListeners: false,
    args: ["--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws"],
    env: { HOPD_TLS_CERT_FILE: certFile, HOPD_TLS_KEY_FILE: keyFile },
  });
  try {
    const wssAddr = hopd.listenAddrs.find((a) => a.includes("/tls/ws"));
    assert.ok(wssAddr, `no /tls/ws listener in ${hopd.listenAddrs.join(", ")}`);
    const port = Number(/\/tcp\/(\d+)\//.exec(wssAddr)![1]);

    await t.step("a stock client pings hopd over /tls/ws, trusting only the test CA", async () => {
      const result = await pingOverTls(wssAddr, join(dir, "ca.pem"));
      assert.equal(result.error, undefined, result.error);
      assert.ok(result.rttMs >= 0);
      assert.equal(await servedSerial(port), await fileSerial(join(dir, "one.pem")));
    });

    await t.step("the expiry metric shows the certificate's notAfter", async () => {
      const expiry = await metric(hopd.opsUrl, "hopd_tls_certificate_expiry_timestamp_seconds");
      const notAfter = (await run("openssl", ["x509", "-noout", "-enddate", "-in", certFile]))
        .trim();
      assert.equal(expiry, Date.parse(notAfter.replace("notAfter=", "")) / 1000);
    });

    await t.step("SIGHUP serves the new certificate to new connections", async () => {
      await Deno.copyFile(join(dir, "two.pem"), certFile);
      await Deno.copyFile(join(dir, "two.key"), keyFile);
      hopd.kill("SIGHUP");
      // hopd logs the reload once it is applied and counted: wait on that, not a poll.
      await hopd.waitForLog((r) => String(r.message).startsWith("Reloaded"));
      assert.equal(await metric(hopd.opsUrl, "hopd_reloads_total", { result: "ok" }), 1);
      assert.equal(await servedSerial(port), await fileSerial(join(dir, "two.pem")));
      const result = await pingOverTls(wssAddr, join(dir, "ca.pem"));
      assert.equal(result.error, undefined, result.error);
    });

    await t.step("a broken certificate on SIGHUP is refused and the old one kept", async () => {
      await Deno.writeTextFile(certFile, "not a certificate\n");
      hopd.kill("SIGHUP");
      await hopd.waitForLog((r) => String(r.message).startsWith("Reload failed"));
      assert.equal(await metric(hopd.opsUrl, "hopd_reloads_total", { result: "error" }), 1);
      assert.equal(await servedSerial(port), await fileSerial(join(dir, "two.pem")));
      assert.equal((await fetch(`${hopd.opsUrl}/ready`)).status, 200);
    });
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("a TLS WebSocket listener without a certificate is a config error (exit 78)", async () => {
  const result = await runHopdCli([
    "run",
    "--listen",
    "/ip4/127.0.0.1/tcp/0/tls/ws",
    "--http",
    "127.0.0.1:0",
  ]);
  assert.equal(result.code, 78);
  assert.match(
    result.stderr,
    /'node\.listen\.0' is a TLS WebSocket address, which needs tls\.cert_file/,
  );
});

Deno.test("a missing certificate file is a config error (exit 78)", async () => {
  const result = await runHopdCli([
    "run",
    "--http",
    "127.0.0.1:0",
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
  ], {
    HOPD_TLS_CERT_FILE: "/nonexistent/cert.pem",
    HOPD_TLS_KEY_FILE: "/nonexistent/key.pem",
  });
  assert.equal(result.code, 78, result.stderr);
  assert.match(result.stderr, /Cannot load TLS certificate/);
});
