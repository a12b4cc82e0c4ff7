import assert from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ManualClock } from "../clock/mod.ts";
import type { ResolvedAcmeConfig } from "../config/mod.ts";
import type { LoadedCertificate } from "../host/mod.ts";
import { AcmeManager, type ChallengeServer } from "./acme_manager.ts";
import type { AcmeCa, OrderRequest } from "./ca_client.ts";
import { type AcmeFs, CertificateStore } from "./certificate_store.ts";
import { ACME_RETRY_INITIAL_MS } from "./constants.ts";

const DAY_MS = 86_400_000;
const T0 = Date.parse("2030-01-01T00:00:00Z");

const CONFIG: ResolvedAcmeConfig = {
  enabled: true,
  directoryUrl: "https://ca.test/directory",
  domains: ["relay.example.com"],
  challenge: "http-01",
  httpListen: { hostname: "127.0.0.1", port: 0 },
  renewBeforeMs: 30 * DAY_MS,
};

/** A self-signed certificate for `domains`, valid from `fromMs` for `days`. */
async function selfSigned(domains: readonly string[], fromMs: number, days: number) {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${domains[0]}`,
    notBefore: new Date(fromMs),
    notAfter: new Date(fromMs + days * DAY_MS),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        domains.map((value) => ({ type: "dns" as const, value })),
      ),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${
    btoa(String.fromCharCode(...pkcs8)).replace(/.{64}/g, "$&\n")
  }\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString("pem"), key };
}

function memoryFs(): AcmeFs & { files: Map<string, string> } {
  const files = new Map<string, string>();
  return {
    files,
    readTextFile: (path) => Promise.resolve(files.get(path)),
    writeSecretFile: (path, text) => {
      files.set(path, text);
      return Promise.resolve();
    },
    mkdir: () => Promise.resolve(),
  };
}

/** A CA that issues `days`-day certificates, or fails while `down` is set. */
class FakeCa implements AcmeCa {
  orders: OrderRequest[] = [];
  down = false;
  constructor(readonly time: ManualClock, readonly days: number) {}
  order(request: OrderRequest) {
    this.orders.push(request);
    if (this.down) return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:14000"));
    return selfSigned(request.domains, this.time.nowMs(), this.days);
  }
}

const noChallenges: ChallengeServer = {
  set() {},
  delete() {},
  start: () => 80,
  stop: () => Promise.resolve(),
};

function setup(options: { days?: number; fs?: ReturnType<typeof memoryFs> } = {}) {
  const time = new ManualClock(T0);
  const ca = new FakeCa(time, options.days ?? 90);
  const fs = options.fs ?? memoryFs();
  const registry = new MetricsRegistry();
  const served: LoadedCertificate[] = [];
  const manager = new AcmeManager(CONFIG, {
    store: new CertificateStore(fs, "/data"),
    ca: () => ca,
    challenges: noChallenges,
    registry,
    clock: time,
    onCertificate: (certificate) => served.push(certificate),
    random: () => 0.5,
  });
  // After each timer, the order it started runs to its end before time moves on.
  const advance = (ms: number) => time.advanceAsync(ms, () => manager.settled());
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const found = (await registry.values(name)).find((v) =>
      Object.entries(labels).every(([k, value]) => v.labels[k] === value)
    );
    return found?.value;
  };
  return { time, advance, ca, fs, manager, served, metric };
}

Deno.test("AcmeManager orders at start when nothing is stored, and stores the pair", async () => {
  const { advance, ca, fs, manager, served, metric } = setup();
  assert.equal(await manager.load(), undefined);
  await manager.start();
  await advance(0);
  assert.equal(ca.orders.length, 1);
  assert.deepEqual(ca.orders[0]!.domains, ["relay.example.com"]);
  assert.equal(served.length, 1);
  assert.deepEqual(served[0]!.domains, ["relay.example.com"]);
  assert.equal(served[0]!.source, "acme");
  assert.ok(fs.files.has("/data/acme/account.key"));
  assert.equal(fs.files.get("/data/acme/certificate.pem"), served[0]!.cert);
  assert.equal(await metric("hopd_acme_orders_total", { result: "ok" }), 1);
  assert.equal(await metric("hopd_acme_renewals_total", { result: "ok" }), 0);
  assert.equal(manager.status().state, "waiting");
  // 90-day certificate, renew_before 30 days: the next order is planned 60 days out.
  assert.equal(manager.status().nextOrderAt, new Date(T0 + 60 * DAY_MS).toISOString());
  await manager.stop();
});

Deno.test("AcmeManager renews at renew_before, not earlier, and hands the new certificate over", async () => {
  const { advance, ca, manager, served, metric } = setup();
  await manager.start();
  await advance(0);
  await advance(60 * DAY_MS - 1_000);
  assert.equal(ca.orders.length, 1, "renewed before renew_before");
  await advance(1_000);
  assert.equal(ca.orders.length, 2);
  assert.equal(served.length, 2);
  assert.notEqual(served[1]!.cert, served[0]!.cert);
  assert.equal(served[1]!.notAfterMs, T0 + 150 * DAY_MS);
  assert.equal(await metric("hopd_acme_renewals_total", { result: "ok" }), 1);
  await manager.stop();
});

Deno.test("AcmeManager keeps a stored certificate across restarts without ordering", async () => {
  const first = setup();
  await first.manager.start();
  await first.advance(0);
  await first.manager.stop();

  const second = setup({ fs: first.fs });
  second.time.setWallMs(T0 + 10 * DAY_MS);
  const loaded = await second.manager.load();
  assert.equal(loaded?.cert, first.served[0]!.cert);
  await second.manager.start();
  await second.advance(DAY_MS);
  assert.equal(second.ca.orders.length, 0, "a restart ordered a certificate that is still valid");
  assert.equal(await second.metric("hopd_acme_orders_total", { result: "ok" }), 0);
  await second.manager.stop();
});

Deno.test("AcmeManager orders again when the stored certificate misses a configured domain", async () => {
  const fs = memoryFs();
  const stored = await selfSigned(["old.example.com"], T0, 90);
  await new CertificateStore(fs, "/data").saveCertificate({
    ...stored,
    directoryUrl: CONFIG.directoryUrl,
  });
  const { advance, ca, manager, served } = setup({ fs });
  assert.equal((await manager.load())?.cert, stored.cert, "serves the old one meanwhile");
  await manager.start();
  await advance(0);
  assert.equal(ca.orders.length, 1);
  assert.deepEqual(served[0]!.domains, ["relay.example.com"]);
  await manager.stop();
});

Deno.test("AcmeManager keeps the old certificate while the CA is down, retrying with backoff", async () => {
  const { time, advance, ca, manager, served, metric } = setup();
  await manager.start();
  await advance(0);
  ca.down = true;
  await advance(60 * DAY_MS);
  assert.equal(ca.orders.length, 2);
  assert.equal(served.length, 1, "a failed renewal replaced the certificate");
  assert.equal(manager.certificate()?.cert, served[0]!.cert);
  assert.equal(await metric("hopd_acme_renewals_total", { result: "error" }), 1);
  assert.equal(await metric("hopd_acme_consecutive_failures"), 1);
  const status = manager.status();
  assert.match(status.lastError ?? "", /ECONNREFUSED/);
  // random() = 0.5: equal jitter gives 3/4 of the doubled delay.
  const firstRetryMs = ACME_RETRY_INITIAL_MS * 0.75;
  assert.equal(status.nextOrderAt, new Date(time.nowMs() + firstRetryMs).toISOString());
  await advance(firstRetryMs - 1);
  assert.equal(ca.orders.length, 2, "retried before the backoff");
  await advance(1);
  assert.equal(ca.orders.length, 3);
  assert.equal(await metric("hopd_acme_consecutive_failures"), 2);
  // The second retry waits twice as long.
  await advance(2 * firstRetryMs - 1);
  assert.equal(ca.orders.length, 3);
  ca.down = false;
  await advance(1);
  assert.equal(ca.orders.length, 4);
  assert.equal(served.length, 2);
  assert.equal(await metric("hopd_acme_consecutive_failures"), 0);
  assert.equal(await metric("hopd_acme_renewals_total", { result: "ok" }), 1);
  await manager.stop();
});

Deno.test("AcmeManager renews a certificate shorter-lived than renew_before at half its life", async () => {
  const { advance, ca, manager } = setup({ days: 6 });
  await manager.start();
  await advance(0);
  await advance(3 * DAY_MS - 1);
  assert.equal(ca.orders.length, 1);
  await advance(1);
  assert.equal(ca.orders.length, 2);
  await manager.stop();
});
