import assert from "node:assert/strict";
import { loadConfig, type RawConfig } from "../config/mod.ts";
import { ListenError } from "../errors.ts";
import { startDaemon } from "./mod.ts";

async function testConfig(dataDir: string, overrides: RawConfig = {}) {
  return await loadConfig({
    overrides: {
      ...overrides,
      node: { data_dir: dataDir, listen: ["/ip4/127.0.0.1/tcp/0"], ...overrides.node },
      http: { listen: "127.0.0.1:0", ...overrides.http },
      policy: { enabled: false, ...overrides.policy },
    },
  });
}

async function ready(opsUrl: string): Promise<{ status: number; body: { reasons: string[] } }> {
  const response = await fetch(`${opsUrl}/ready`);
  return { status: response.status, body: await response.json() };
}

Deno.test("startDaemon() starts every component, drains on request and stops them all", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-daemon-test-" });
  try {
    const daemon = await startDaemon(await testConfig(dataDir));
    const opsUrl = `http://127.0.0.1:${daemon.opsAddress.port}`;
    assert.match(daemon.listenAddrs()[0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
    assert.deepEqual(await ready(opsUrl), { status: 200, body: { ready: true, reasons: [] } });

    daemon.setDraining(true);
    assert.deepEqual(await ready(opsUrl), {
      status: 503,
      body: { ready: false, reasons: ["node is draining"] },
    });
    const status = daemon.status() as { draining: boolean; relay: { draining: boolean } };
    assert.equal(status.draining, true);
    assert.equal(status.relay.draining, true, "the relay hears the drain");
    daemon.setDraining(false);
    assert.equal(daemon.readiness().ready, true);

    await daemon.shutdown();
    assert.equal(daemon.readiness().ready, false);
    await assert.rejects(fetch(`${opsUrl}/ready`), TypeError, "the ops server is closed");
    assert.deepEqual(daemon.listenAddrs(), [], "the libp2p listeners are closed");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  probe.close();
  return (probe.addr as Deno.NetAddr).port;
}

Deno.test("startDaemon() stops what it started when a later component cannot start", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-daemon-test-" });
  // The ops server starts after the host and the relay: a taken port fails it.
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const libp2pPort = freePort();
  try {
    const config = await testConfig(dataDir, {
      node: { listen: [`/ip4/127.0.0.1/tcp/${libp2pPort}`] },
      http: { listen: `127.0.0.1:${(taken.addr as Deno.NetAddr).port}` },
    });
    await assert.rejects(startDaemon(config), ListenError);
    // Rolled back: the host's listener is closed, so its port can be bound again.
    Deno.listen({ hostname: "127.0.0.1", port: libp2pPort }).close();
  } finally {
    taken.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

async function statusCodes(opsUrl: string, count: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${opsUrl}/v1/status`);
    await response.body?.cancel();
    codes.push(response.status);
  }
  return codes;
}

Deno.test("Daemon.reload() applies all or nothing: a part that fails keeps every setting as it was", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-daemon-test-" });
  const tokenFile = `${dataDir}/admin.token`;
  await Deno.writeTextFile(tokenFile, "0123456789abcdef0123\n", { mode: 0o600 });
  // The reload's config: one /v1 request per caller IP, and an admin token file.
  let next = await testConfig(dataDir);
  const tight = (tokenFile: string) =>
    testConfig(dataDir, {
      // Per minute, not per second: a loaded machine may take a second over three requests.
      limits: { http_requests_per_ip: "1/m", http_requests_per_ip_burst: 1 },
      admin: { token_file: tokenFile },
    });
  const daemon = await startDaemon(next, { loadConfig: () => Promise.resolve(next) });
  const opsUrl = `http://127.0.0.1:${daemon.opsAddress.port}`;
  try {
    await t.step("a token file that cannot be read: the new limits are not applied", async () => {
      next = await tight(`${dataDir}/missing.token`);
      assert.equal(await daemon.reload(), false);
      assert.deepEqual(await statusCodes(opsUrl, 5), [200, 200, 200, 200, 200]);
    });
    await t.step("once every part loads, all of it is applied", async () => {
      next = await tight(tokenFile);
      assert.equal(await daemon.reload(), true);
      assert.deepEqual(await statusCodes(opsUrl, 3), [200, 429, 429]);
    });
    const reloads = await (await fetch(`${opsUrl}/metrics`)).text();
    assert.match(reloads, /hopd_reloads_total\{result="error"\} 1/);
    assert.match(reloads, /hopd_reloads_total\{result="ok"\} 1/);
  } finally {
    await daemon.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
});
