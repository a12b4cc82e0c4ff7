// acmeService(): the real store, http-01 server and acme-client CA against Debian's pebble
// (Let's Encrypt's test CA, started by tests/_helpers/pebble.ts; scripts/test_deps.sh installs
// it). The manager's timing is driven by a ManualClock: each order is started by advancing it
// and awaited with settled(), so nothing waits on time.
import assert from "node:assert/strict";
import { join } from "node:path";
import { MetricsRegistry } from "../metrics/mod.ts";
import { freePort, startPebble } from "../../tests/_helpers/pebble.ts";
import { ManualClock } from "../clock/mod.ts";
import { defaultConfig, type ResolvedAcmeConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import type { LoadedCertificate } from "../host/mod.ts";
import { type AcmeManager, acmeService } from "./mod.ts";

const DOMAIN = "hopd.test";

function acmeConfig(overrides: Partial<ResolvedAcmeConfig>): ResolvedAcmeConfig {
  return { ...defaultConfig().acme, enabled: true, domains: [DOMAIN], ...overrides };
}

/** The service over a fresh data directory, its clock and the certificates it handed on. */
async function service(acme: ResolvedAcmeConfig) {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-acme-mod-" });
  const clock = new ManualClock(Date.now());
  const issued: LoadedCertificate[] = [];
  const manager: AcmeManager = acmeService({ acme, dataDir })({
    registry: new MetricsRegistry(),
    clock,
    onCertificate: (certificate) => issued.push(certificate),
  });
  /** Runs the order start() planned (due now) to its end. */
  const orderNow = async () => {
    clock.advance(0);
    await manager.settled();
  };
  const cleanup = async () => {
    await manager.stop();
    await Deno.remove(dataDir, { recursive: true });
  };
  return { manager, issued, dataDir, orderNow, cleanup };
}

Deno.test("acmeService() gets a certificate from pebble over http-01, with external account binding", async () => {
  const eab = {
    kid: "hopd-unit",
    hmacKey: "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
  };
  const pebble = await startPebble({ eab });
  const keyFile = join(pebble.dir, "eab.key");
  // The key file's first line is the key: an editor's trailing newline must not break it.
  await Deno.writeTextFile(keyFile, `${eab.hmacKey}\n`, { mode: 0o600 });
  const { manager, issued, dataDir, orderNow, cleanup } = await service(acmeConfig({
    directoryUrl: pebble.directoryUrl,
    directoryCaFile: pebble.directoryCaFile,
    httpListen: { hostname: "127.0.0.1", port: pebble.httpPort },
    email: "ops@hopd.test",
    eab: { kid: eab.kid, hmacKeyFile: keyFile },
  }));
  try {
    await manager.start();
    await orderNow();
    const status = manager.status();
    assert.equal(status.lastError, undefined, `${status.lastError}\n${pebble.log()}`);
    assert.equal(issued.length, 1);
    assert.deepEqual(issued[0]!.domains, [DOMAIN]);
    assert.equal(manager.certificate(), issued[0]);
    // The chain pebble issued is the one stored for the next start.
    const stored = await Deno.readTextFile(join(dataDir, "acme", "certificate.pem"));
    assert.match(stored, /^-----BEGIN CERTIFICATE-----/);
    assert.ok(stored.split("-----BEGIN CERTIFICATE-----").length > 2, "leaf and intermediate");
    assert.match(pebble.log(), /Issued certificate serial/i);
  } finally {
    await cleanup();
    await pebble.stop();
  }
});

Deno.test("acmeService(): a CA that is down fails the order with the network error, not acme-client's TypeError", async () => {
  // A free port with nothing listening: the connection is refused.
  const port = freePort();
  const { manager, issued, orderNow, cleanup } = await service(acmeConfig({
    directoryUrl: `https://127.0.0.1:${port}/dir`,
    httpListen: { hostname: "127.0.0.1", port: 0 },
  }));
  try {
    await manager.start();
    await orderNow();
    const status = manager.status();
    assert.equal(issued.length, 0);
    assert.equal(status.consecutiveFailures, 1);
    assert.equal(status.state, "waiting");
    assert.match(
      status.lastError ?? "",
      new RegExp(
        `ECONNREFUSED.*127\\.0\\.0\\.1:${port}.*\\(https://127\\.0\\.0\\.1:${port}/dir\\)`,
      ),
    );
  } finally {
    await cleanup();
  }
});

Deno.test("acmeService(): an unreadable CA or EAB key file is a ConfigError naming the key and the path", async (t) => {
  const missing = "/nonexistent/hopd-acme-test.pem";
  const cases: [string, Partial<ResolvedAcmeConfig>, string][] = [
    ["acme.directory_ca_file", { directoryCaFile: missing }, "directory_ca_file"],
    ["acme.eab_hmac_key_file", { eab: { kid: "k", hmacKeyFile: missing } }, "eab_hmac_key_file"],
  ];
  for (const [name, overrides, key] of cases) {
    await t.step(name, async () => {
      const { manager, cleanup } = await service(acmeConfig({
        directoryUrl: "https://127.0.0.1:1/dir",
        httpListen: { hostname: "127.0.0.1", port: 0 },
        ...overrides,
      }));
      try {
        await assert.rejects(manager.start(), (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.match(error.message, new RegExp(`^Cannot load acme\\.${key} '${missing}': `));
          return true;
        });
        // start() let go of the http-01 port it had bound before failing.
        assert.equal(manager.status().state, "stopped");
      } finally {
        await cleanup();
      }
    });
  }
});
