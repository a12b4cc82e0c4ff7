import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import type { LoadedCertificate } from "../host/mod.ts";
import type { ResolvedLimiterConfig } from "../ratelimit/mod.ts";
import { applyReload, prepareReload, restartOnlyChanges } from "./reload.ts";
import { Settings } from "./settings.ts";

const TLS = { certFile: "/etc/hopd/cert.pem", keyFile: "/etc/hopd/key.pem" };
const CERTIFICATE = { cert: "c", key: "k", notAfterMs: Date.UTC(2031, 0, 1) } as LoadedCertificate;

function targets(settings: Settings) {
  const applied: string[] = [];
  return {
    applied,
    limiter: {
      reload: (c: ResolvedLimiterConfig) =>
        void applied.push(`limits ${c.httpRequestsPerIp.ratePerSecond}`),
    },
    settings,
    host: { useCertificate: (c: LoadedCertificate) => void applied.push(`certificate ${c.cert}`) },
  };
}

Deno.test("prepareReload() fails as a whole when any part cannot be read", async (t) => {
  const next = await loadConfig({ overrides: { limits: { http_requests_per_ip: "1/s" } } });
  await t.step("the certificate", async () => {
    await assert.rejects(
      prepareReload({
        loadConfig: () => Promise.resolve(next),
        tls: TLS,
        readCertificate: () => Promise.reject(new ConfigError("Cannot load TLS certificate")),
      }),
      ConfigError,
    );
  });
  await t.step("the admin token", async () => {
    const withToken = await loadConfig({ overrides: { admin: { token_file: "/nonexistent" } } });
    await assert.rejects(
      prepareReload({
        loadConfig: () => Promise.resolve(withToken),
        tls: {},
        readCertificate: () => Promise.resolve(CERTIFICATE),
      }),
      /Cannot load admin token '\/nonexistent'/,
    );
  });
  await t.step("the config", async () => {
    await assert.rejects(
      prepareReload({ loadConfig: () => Promise.reject(new ConfigError("bad key")), tls: {} }),
      /bad key/,
    );
  });
});

Deno.test("applyReload() hands every checked part to its component", async () => {
  const current = await loadConfig();
  const next = await loadConfig({
    overrides: {
      limits: { http_requests_per_ip: "7/s" },
      access: { allowlist_max_circuits_per_peer: 9 },
      admin: { max_body_size: "4KiB" },
    },
  });
  const settings = new Settings(current, undefined);
  const t = targets(settings);
  const plan = await prepareReload({
    loadConfig: () => Promise.resolve(next),
    tls: TLS,
    readCertificate: () => Promise.resolve(CERTIFICATE),
  });
  assert.deepEqual(t.applied, [], "preparing applies nothing");
  assert.deepEqual(applyReload(plan, t), [
    "limits",
    "access lists",
    "admin token",
    "TLS certificate (valid until 2031-01-01T00:00:00.000Z)",
  ]);
  assert.deepEqual(t.applied, ["limits 7", "certificate c"]);
  assert.equal(settings.allowlistMaxCircuitsPerPeer, 9);
  assert.equal(settings.adminAuth().maxBodyBytes, 4096);
});

Deno.test("restartOnlyChanges() names the sections a reload cannot apply", async () => {
  const current = await loadConfig();
  const next = await loadConfig({
    overrides: { relay: { max_reservations: 7 }, limits: { circuits_global: "9/s" } },
  });
  assert.deepEqual(restartOnlyChanges(current, next), ["relay"]);
  assert.deepEqual(restartOnlyChanges(current, current), []);
});
