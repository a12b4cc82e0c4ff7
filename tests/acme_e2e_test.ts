// ACME end to end against Debian's pebble (Let's Encrypt's test CA) and pebble-challtestsrv
// (its DNS, answering 127.0.0.1 for hopd.test): hopd obtains its WebSockets-over-TLS
// certificate over http-01, the chain verifies against pebble's root, a restart reuses it,
// a short renew_before renews it while a libp2p connection over /tls/ws stays open, and a
// CA that goes down leaves the old certificate served and the failure counted. Needs
// pebble: run scripts/test_deps.sh first (this test never installs anything).
import assert from "node:assert/strict";
import { join } from "node:path";
import { type HopdProcess, REPO_ROOT, runHopdCli, spawnHopd } from "./_helpers/hopd_process.ts";
import { metric } from "./_helpers/ops_probe.ts";
import { type Pebble, startPebble, withTestHosts } from "./_helpers/pebble.ts";

const DOMAIN = "hopd.test";
/** Pebble's first order with its VA sleeps off takes well under a second; a loaded CI box more. */
const ORDER_TIMEOUT_MS = 30_000;

function acmeEnv(pebble: Pebble, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOPD_ACME_ENABLED: "true",
    HOPD_ACME_DOMAINS: DOMAIN,
    HOPD_ACME_DIRECTORY: pebble.directoryUrl,
    HOPD_ACME_DIRECTORY_CA_FILE: pebble.directoryCaFile,
    HOPD_ACME_HTTP_LISTEN: `127.0.0.1:${pebble.httpPort}`,
    HOPD_ACME_EMAIL: "ops@hopd.test",
    ...extra,
  };
}

function spawnAcmeHopd(
  pebble: Pebble,
  options: { dataDir?: string; env?: Record<string, string> },
) {
  return spawnHopd({
    loopbackListeners: false,
    args: ["--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/tcp/0/tls/ws"],
    env: acmeEnv(pebble, options.env),
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
  });
}

function wssPort(hopd: HopdProcess): number {
  const addr = hopd.listenAddrs.find((a) => a.startsWith("/ip4/") && a.includes("/tls/ws"));
  assert.ok(addr, `no /tls/ws listener in ${hopd.listenAddrs.join(", ")}`);
  return Number(/\/tcp\/(\d+)\//.exec(addr)![1]);
}

async function run(cmd: string, args: string[], stdin = ""): Promise<string> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const output = await child.output();
  return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
}

/** What `openssl s_client` sees on the port for SNI hopd.test, trusting only `rootFile`. */
async function served(port: number, rootFile: string) {
  const text = await run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    "-servername",
    DOMAIN,
    "-CAfile",
    rootFile,
    "-verify_hostname",
    DOMAIN,
    "-showcerts",
  ]);
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text)?.[0];
  assert.ok(leaf, `no certificate served on ${port}:\n${text}`);
  const serial = (await run("openssl", ["x509", "-noout", "-serial"], leaf)).trim();
  const verify = /Verify return code: (\d+) \(([^)]*)\)/.exec(text);
  return { serial, verified: verify?.[1] === "0", verifyText: verify?.[0] ?? text, leaf };
}

async function status(hopd: HopdProcess) {
  return await (await fetch(`${hopd.opsUrl}/v1/status`)).json();
}

/** Whether `record` is hopd's line for an issued certificate. */
function isIssued(record: Record<string, unknown>): boolean {
  return String(record.message).startsWith("ACME: new certificate for");
}

/**
 * Waits for hopd's line for a failed order (logged once it is counted); `renewal` picks
 * failures with a certificate already served (they say they keep serving it).
 */
async function orderFailed(hopd: HopdProcess, renewal: boolean): Promise<Record<string, unknown>> {
  return await hopd.waitForLog((record) => {
    const message = String(record.message);
    return /^ACME order \d+ in a row failed/.test(message) &&
      message.includes("serving the old certificate") === renewal;
  }, ORDER_TIMEOUT_MS);
}

/** Waits for hopd's `count`-th "new certificate" line (logged once the order is counted). */
async function waitForOrders(hopd: HopdProcess, pebble: Pebble, count: number): Promise<void> {
  let seen = 0;
  try {
    await hopd.waitForLog((record) => isIssued(record) && ++seen === count, ORDER_TIMEOUT_MS);
  } catch (error) {
    const tls = (await status(hopd)).tls;
    throw new Error(
      `hopd had no ${count} certificate(s) from pebble in time: ${JSON.stringify(tls)}\n` +
        `--- pebble ---\n${pebble.log().slice(-3000)}`,
      { cause: error },
    );
  }
  assert.ok(
    await metric(hopd.opsUrl, "hopd_acme_orders_total", { result: "ok" }) >= count,
    "the issued certificate was not counted",
  );
}

Deno.test("hopd obtains its WSS certificate from pebble over http-01, and a restart reuses it", async (t) => {
  const pebble = await startPebble();
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-acme-" });
  const rootFile = join(pebble.dir, "root.pem");
  let hopd = await spawnAcmeHopd(pebble, { dataDir });
  try {
    await waitForOrders(hopd, pebble, 1);
    await Deno.writeTextFile(rootFile, await pebble.root());
    const port = wssPort(hopd);
    let first = "";

    await t.step("the served chain verifies against pebble's root for hopd.test", async () => {
      const seen = await served(port, rootFile);
      assert.ok(seen.verified, seen.verifyText);
      first = seen.serial;
    });

    await t.step("metrics and /v1/status show the certificate", async () => {
      const body = await status(hopd);
      const certificate = body.tls.certificate;
      assert.equal(certificate.source, "acme");
      assert.deepEqual(certificate.domains, [DOMAIN]);
      assert.match(certificate.issuer, /Pebble Intermediate CA/);
      assert.equal(body.tls.acme.consecutiveFailures, 0);
      const expiry = await metric(hopd.opsUrl, "hopd_tls_certificate_expiry_timestamp_seconds", {
        source: "acme",
      });
      assert.equal(expiry, Date.parse(certificate.notAfter) / 1000);
      assert.equal(await metric(hopd.opsUrl, "hopd_acme_orders_total", { result: "error" }), 0);
    });

    await t.step("the relay announces /dns4/hopd.test/tcp/PORT/tls/ws/p2p/ID", async () => {
      const body = await status(hopd);
      assert.ok(
        body.listen.includes(`/dns4/${DOMAIN}/tcp/${port}/tls/ws/p2p/${hopd.peerId}`),
        `no /dns4 address in ${body.listen.join(", ")}`,
      );
    });

    await t.step("the account key and certificate key are stored with mode 0600", async () => {
      for (const name of ["account.key", "certificate.key", "certificate.pem"]) {
        const mode = (await Deno.stat(join(dataDir, "acme", name))).mode! & 0o777;
        assert.equal(mode, 0o600, `${name} has mode ${mode.toString(8)}`);
      }
    });

    await t.step("a restart serves the stored certificate and orders nothing", async () => {
      assert.equal((await hopd.stop()).code, 0);
      hopd = await spawnAcmeHopd(pebble, { dataDir });
      const seen = await served(wssPort(hopd), rootFile);
      assert.equal(seen.serial, first);
      const body = await status(hopd);
      assert.equal(body.tls.acme.state, "waiting");
      assert.ok(Date.parse(body.tls.acme.nextOrderAt) > Date.now() + 3_600_000);
      assert.equal(await metric(hopd.opsUrl, "hopd_acme_orders_total", { result: "ok" }), 0);
      assert.equal(await metric(hopd.opsUrl, "hopd_acme_orders_total", { result: "error" }), 0);
    });
  } finally {
    assert.equal((await hopd.stop()).code, 0);
    await pebble.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** tests/interop/wss_holder.ts in a namespace where hopd.test is 127.0.0.1, trusting `rootFile`. */
async function holdConnection(addr: string, rootFile: string) {
  const [command, args] = await withTestHosts([DOMAIN], Deno.execPath(), [
    "run",
    "-A",
    "tests/interop/wss_holder.ts",
    addr,
  ]);
  const child = new Deno.Command(command, {
    args,
    cwd: REPO_ROOT,
    env: { DENO_CERT: rootFile, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async (): Promise<string | undefined> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await text.read();
      if (done) return undefined;
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
  const stdin = child.stdin.getWriter();
  const stderr = new Response(child.stderr).text();
  return {
    async ping(): Promise<Record<string, unknown>> {
      await stdin.write(new TextEncoder().encode("ping\n"));
      const line = await nextLine();
      if (line === undefined) throw new Error(`the WSS client exited: ${await stderr}`);
      return JSON.parse(line);
    },
    async close() {
      await stdin.close().catch(() => {});
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await child.status;
      clearTimeout(killer);
      await text.cancel().catch(() => {});
      await stderr;
    },
  };
}

Deno.test("a short renew_before renews the certificate while a /tls/ws connection stays open; a stopped CA leaves the old one served", async (t) => {
  // 60-second certificates renewed 50 s before expiry: a new one about every 10 s.
  const pebble = await startPebble({ validitySeconds: 60 });
  const hopd = await spawnAcmeHopd(pebble, { env: { HOPD_ACME_RENEW_BEFORE: "50s" } });
  let client: Awaited<ReturnType<typeof holdConnection>> | undefined;
  try {
    await waitForOrders(hopd, pebble, 1);
    const root = await pebble.root();
    const rootFile = join(pebble.dir, "root.pem");
    await Deno.writeTextFile(rootFile, root);
    const port = wssPort(hopd);
    const before = await served(port, rootFile);
    // The address hopd announces, dialed by name as a browser would.
    client = await holdConnection(
      `/dns4/${DOMAIN}/tcp/${port}/tls/ws/p2p/${hopd.peerId}`,
      rootFile,
    );
    const opened = await client.ping();
    assert.equal(opened.error, undefined, String(opened.error));

    await t.step("the renewal swaps the certificate for new connections", async () => {
      await waitForOrders(hopd, pebble, 2);
      assert.equal(
        await metric(hopd.opsUrl, "hopd_acme_renewals_total", { result: "ok" }) >= 1,
        true,
      );
      const after = await served(port, rootFile);
      assert.notEqual(after.serial, before.serial);
      assert.ok(after.verified, after.verifyText);
    });

    await t.step("the connection opened before the renewal is still open and answers", async () => {
      const after = await client!.ping();
      assert.equal(after.error, undefined, String(after.error));
      assert.equal(after.status, "open");
      assert.equal(after.connectionId, opened.connectionId);
      assert.deepEqual(after.connections, [opened.connectionId]);
    });

    await t.step(
      "with pebble stopped, renewals fail, are counted, and the old certificate stays",
      async () => {
        await pebble.stopCa();
        await orderFailed(hopd, true);
        assert.ok(
          await metric(hopd.opsUrl, "hopd_acme_renewals_total", { result: "error" }) >= 1,
          "no failed renewal counted after pebble stopped",
        );
        const body = await status(hopd);
        assert.ok(body.tls.acme.consecutiveFailures >= 1);
        assert.match(body.tls.acme.lastError, /ECONNREFUSED|connect|refused/i);
        assert.equal(
          await metric(hopd.opsUrl, "hopd_acme_consecutive_failures"),
          body.tls.acme.consecutiveFailures,
        );
        const still = await served(port, rootFile);
        assert.equal(still.serial, (await served(port, rootFile)).serial);
        assert.equal(
          Date.parse(body.tls.certificate.notAfter) / 1000,
          await metric(hopd.opsUrl, "hopd_tls_certificate_expiry_timestamp_seconds", {
            source: "acme",
          }),
        );
        assert.equal((await fetch(`${hopd.opsUrl}/ready`)).status, 200);
      },
    );
  } finally {
    await client?.close();
    assert.equal((await hopd.stop()).code, 0);
    await pebble.stop();
  }
});

Deno.test("a CA that requires external account binding refuses hopd without it and issues with acme.eab_*", async (t) => {
  const eab = {
    kid: "hopd-kid-1",
    hmacKey: "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
  };
  const pebble = await startPebble({ eab });
  const keyFile = join(pebble.dir, "eab.key");
  await Deno.writeTextFile(keyFile, `${eab.hmacKey}\n`, { mode: 0o600 });
  try {
    await t.step("without a binding the order fails with the CA's error, counted", async () => {
      const hopd = await spawnAcmeHopd(pebble, {});
      try {
        await orderFailed(hopd, false);
        assert.ok(
          await metric(hopd.opsUrl, "hopd_acme_orders_total", { result: "error" }) >= 1,
          "no failed order counted",
        );
        const body = await status(hopd);
        assert.match(body.tls.acme.lastError, /externalAccountBinding/);
        assert.equal(body.tls.certificate, undefined);
        assert.equal((await fetch(`${hopd.opsUrl}/ready`)).status, 200);
      } finally {
        assert.equal((await hopd.stop()).code, 0);
      }
    });
    await t.step(
      "with acme.eab_kid and acme.eab_hmac_key_file it gets its certificate",
      async () => {
        const hopd = await spawnAcmeHopd(pebble, {
          env: { HOPD_ACME_EAB_KID: eab.kid, HOPD_ACME_EAB_HMAC_KEY_FILE: keyFile },
        });
        try {
          await waitForOrders(hopd, pebble, 1);
          const rootFile = join(pebble.dir, "root.pem");
          await Deno.writeTextFile(rootFile, await pebble.root());
          const seen = await served(wssPort(hopd), rootFile);
          assert.ok(seen.verified, seen.verifyText);
        } finally {
          assert.equal((await hopd.stop()).code, 0);
        }
      },
    );
  } finally {
    await pebble.stop();
  }
});

Deno.test("hopd run with both [tls] files and [acme] exits 78 naming both keys", async () => {
  const result = await runHopdCli(["run", "--http", "127.0.0.1:0"], {
    HOPD_ACME_ENABLED: "true",
    HOPD_ACME_DOMAINS: DOMAIN,
    HOPD_TLS_CERT_FILE: "/etc/hopd/cert.pem",
    HOPD_TLS_KEY_FILE: "/etc/hopd/key.pem",
  });
  assert.equal(result.code, 78, result.stderr);
  assert.match(result.stderr, /'acme\.enabled'.*tls\.cert_file/);
});
