import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { loadConfig } from "./mod.ts";

const WSS = "/ip4/0.0.0.0/tcp/443/tls/ws";

async function configError(env: Record<string, string>): Promise<string> {
  try {
    await loadConfig({ env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail("expected loadConfig() to throw a ConfigError");
}

Deno.test("[acme] resolves from HOPD_ACME_* with its defaults filled in", async () => {
  const config = await loadConfig({
    env: {
      HOPD_ACME_ENABLED: "true",
      HOPD_ACME_DOMAINS: "Relay.Example.com, relay2.example.com",
      HOPD_NODE_LISTEN: WSS,
    },
  });
  assert.deepEqual(config.acme, {
    enabled: true,
    directoryUrl: "https://acme-v02.api.letsencrypt.org/directory",
    domains: ["relay.example.com", "relay2.example.com"],
    challenge: "http-01",
    httpListen: { hostname: "0.0.0.0", port: 80 },
    renewBeforeMs: 30 * 86_400_000,
  });
});

Deno.test("[acme] takes a private CA's trust file and an external account binding", async () => {
  const config = await loadConfig({
    env: {
      HOPD_ACME_ENABLED: "true",
      HOPD_ACME_DOMAINS: "relay.example.com",
      HOPD_ACME_DIRECTORY: "https://ca.internal:9000/acme/acme/directory",
      HOPD_ACME_DIRECTORY_CA_FILE: "/etc/hopd/ca.pem",
      HOPD_ACME_EAB_KID: "kid-1",
      HOPD_ACME_EAB_HMAC_KEY_FILE: "/etc/hopd/eab.key",
      HOPD_ACME_EMAIL: "ops@example.com",
      HOPD_ACME_RENEW_BEFORE: "10d",
      HOPD_NODE_LISTEN: WSS,
    },
  });
  assert.equal(config.acme.directoryCaFile, "/etc/hopd/ca.pem");
  assert.deepEqual(config.acme.eab, { kid: "kid-1", hmacKeyFile: "/etc/hopd/eab.key" });
  assert.equal(config.acme.email, "ops@example.com");
  assert.equal(config.acme.renewBeforeMs, 10 * 86_400_000);
});

Deno.test("[acme] misconfigurations are config errors naming the keys", async (t) => {
  const base = { HOPD_ACME_ENABLED: "true", HOPD_ACME_DOMAINS: "relay.example.com" };
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "[tls] files and [acme] together",
      { ...base, HOPD_NODE_LISTEN: WSS, HOPD_TLS_CERT_FILE: "c.pem", HOPD_TLS_KEY_FILE: "k.pem" },
      /'acme\.enabled' cannot be true while tls\.cert_file is set/,
    ],
    [
      "no domains",
      { HOPD_ACME_ENABLED: "true", HOPD_NODE_LISTEN: WSS },
      /'acme\.domains' must list at least one DNS name/,
    ],
    [
      "a wss_listen that is no TLS WebSocket address",
      { ...base, HOPD_ACME_WSS_LISTEN: "/ip4/0.0.0.0/tcp/443/ws" },
      /'acme\.wss_listen' must be a TLS WebSocket multiaddr/,
    ],
    [
      "a wildcard domain",
      { ...base, HOPD_ACME_DOMAINS: "*.example.com", HOPD_NODE_LISTEN: WSS },
      /'acme\.domains\.0' must be a DNS name/,
    ],
    [
      "tls-alpn-01",
      { ...base, HOPD_ACME_CHALLENGE: "tls-alpn-01", HOPD_NODE_LISTEN: WSS },
      /'acme\.challenge' must be one of "http-01"/,
    ],
    [
      "an EAB key id without its key file",
      { ...base, HOPD_ACME_EAB_KID: "kid-1", HOPD_NODE_LISTEN: WSS },
      /'acme\.eab_hmac_key_file' must be set together with acme\.eab_kid/,
    ],
  ];
  for (const [name, env, expected] of cases) {
    await t.step(name, async () => assert.match(await configError(env), expected));
  }
});

Deno.test("a /tls/ws listener needs [tls] files only while [acme] is off", async () => {
  assert.match(
    await configError({ HOPD_NODE_LISTEN: WSS }),
    /needs tls\.cert_file and tls\.key_file \(or acme\.enabled\)/,
  );
  const config = await loadConfig({
    env: { HOPD_NODE_LISTEN: WSS, HOPD_ACME_ENABLED: "true", HOPD_ACME_DOMAINS: "a.example" },
  });
  assert.equal(config.tls.certFile, undefined);
});

Deno.test("[acme] with only enabled and a domain listens on wss_listen beside the default listeners", async () => {
  const config = await loadConfig({
    env: { HOPD_ACME_ENABLED: "true", HOPD_ACME_DOMAINS: "relay.example.com" },
  });
  assert.deepEqual(config.node.listen, [
    "/ip4/0.0.0.0/tcp/4001",
    "/ip4/0.0.0.0/tcp/4002/ws",
    "/ip4/0.0.0.0/tcp/443/tls/ws",
  ]);
  assert.deepEqual(config.acme.httpListen, { hostname: "0.0.0.0", port: 80 });
  // A /tls/ws address of the operator's own replaces it.
  const own = await loadConfig({
    env: {
      HOPD_ACME_ENABLED: "true",
      HOPD_ACME_DOMAINS: "relay.example.com",
      HOPD_NODE_LISTEN: WSS,
    },
  });
  assert.deepEqual(own.node.listen, [WSS]);
});
