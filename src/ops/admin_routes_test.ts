import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { MetricsRegistry } from "../metrics/mod.ts";
import { parseDurationMs } from "../config/mod.ts";
import type { AdminAuthConfig, AdminControl, BanRequest, BanView } from "./admin_routes.ts";
import { createOpsApp, type HttpAdmission, type HttpCaller } from "./mod.ts";
import { defaultConfig } from "../config/mod.ts";
import { BanList, createLimiter, limiterConfigFrom } from "../ratelimit/mod.ts";
import { ManualClock } from "../clock/mod.ts";

const TOKEN = "s3cret-token-value";
const LOOPBACK: { remoteAddr: Deno.NetAddr } = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 5000 },
};
const REMOTE: { remoteAddr: Deno.NetAddr } = {
  remoteAddr: { transport: "tcp", hostname: "203.0.113.7", port: 5000 },
};

class FakeControl implements AdminControl {
  banned: BanView[] = [];
  draining = false;
  disconnected: string[] = [];
  bans() {
    return this.banned;
  }
  ban(request: BanRequest): Promise<BanView> {
    if (request.peer !== undefined && !request.peer.startsWith("12D3")) {
      throw new RangeError(`'${request.peer}' is not a peer ID`);
    }
    const ban: BanView = {
      kind: request.peer ? "peer" : "cidr",
      target: (request.peer ?? request.cidr)!,
      createdAt: new Date(0).toISOString(),
      ...(request.ttlMs ? { expiresAt: new Date(request.ttlMs).toISOString() } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
    };
    this.banned.push(ban);
    return Promise.resolve(ban);
  }
  unban(target: string) {
    const before = this.banned.length;
    this.banned = this.banned.filter((ban) => ban.target !== target);
    return Promise.resolve(this.banned.length < before);
  }
  reservations() {
    return Array.from({ length: 250 }, (_, i) => ({ peer: `peer-${i}` }));
  }
  circuits() {
    return [];
  }
  peers() {
    return [{ peer: "12D3KooWpeer", connections: 1 }];
  }
  drain() {
    this.draining = true;
  }
  resume() {
    this.draining = false;
  }
  disconnect(peer: string) {
    this.disconnected.push(peer);
    return Promise.resolve(2);
  }
}

function app(
  auth: Partial<AdminAuthConfig> = {},
  httpAdmission?: (ip: string, caller: HttpCaller) => HttpAdmission,
) {
  const control = new FakeControl();
  const ops = createOpsApp({
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    admin: {
      control,
      auth: () => ({ allowRemote: false, maxBodyBytes: 1024, ...auth }),
      parseDurationMs,
    },
    httpAdmission,
  });
  return { ops, control };
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

Deno.test("admin API authentication", async (t) => {
  const cases: [string, Partial<AdminAuthConfig>, RequestInit, typeof LOOPBACK, number][] = [
    ["no token configured, loopback caller: allowed", {}, {}, LOOPBACK, 200],
    ["no token configured, remote caller: 403", {}, {}, REMOTE, 403],
    [
      "no token configured, remote caller with allow_remote: still 403",
      { allowRemote: true },
      {},
      REMOTE,
      403,
    ],
    ["token configured, none sent: 401", { token: TOKEN }, {}, LOOPBACK, 401],
    ["token configured, wrong one: 401", { token: TOKEN }, bearer("nope"), LOOPBACK, 401],
    ["token configured, right one: 200", { token: TOKEN }, bearer(TOKEN), LOOPBACK, 200],
    ["token, remote caller, allow_remote off: 403", { token: TOKEN }, bearer(TOKEN), REMOTE, 403],
    [
      "token, remote caller, allow_remote on: 200",
      { token: TOKEN, allowRemote: true },
      bearer(TOKEN),
      REMOTE,
      200,
    ],
    [
      "token, remote caller, allow_remote on, wrong token: 401",
      { token: TOKEN, allowRemote: true },
      bearer("x"),
      REMOTE,
      401,
    ],
  ];
  for (const [name, auth, init, env, status] of cases) {
    await t.step(name, async () => {
      const response = await app(auth).ops.request("/v1/admin/bans", init, env);
      assert.equal(response.status, status);
      const body = await response.json();
      if (status !== 200) {
        assert.equal(typeof body.error.code, "string");
        assert.equal(typeof body.error.message, "string");
      }
      if (status === 401) assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
    });
  }
});

Deno.test("admin ban, list and unban round-trip, with input validation", async (t) => {
  const { ops, control } = app();
  const post = (body: unknown) =>
    ops.request("/v1/admin/bans", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }, LOOPBACK);

  await t.step("a CIDR ban with a TTL is created (201)", async () => {
    const response = await post({ cidr: "203.0.113.0/24", ttl: "1h", reason: "flood" });
    assert.equal(response.status, 201);
    assert.equal((await response.json()).target, "203.0.113.0/24");
    assert.equal(control.banned[0]!.expiresAt, new Date(3_600_000).toISOString());
  });
  await t.step("bans are listed", async () => {
    const body = await (await ops.request("/v1/admin/bans", {}, LOOPBACK)).json();
    assert.equal(body.total, 1);
    assert.equal(body.items[0].target, "203.0.113.0/24");
  });
  for (
    const [name, body] of [
      ["neither peer nor cidr", {}],
      ["both peer and cidr", { peer: "12D3KooWx", cidr: "10.0.0.0/8" }],
      ["a bad TTL", { cidr: "10.0.0.0/8", ttl: "soon" }],
      ["not JSON", "{nope"],
      ["a JSON array", "[]"],
      ["a bad peer ID (the control's RangeError)", { peer: "nope" }],
    ] as const
  ) {
    await t.step(`${name}: 400 JSON`, async () => {
      const response = await post(body);
      assert.equal(response.status, 400);
      assert.equal((await response.json()).error.code, "BAD_REQUEST");
    });
  }
  await t.step("a bad field is named with the value it got", async () => {
    const response = await post({ cidr: "10.0.0.0/8", reason: 7 });
    assert.deepEqual(await response.json(), {
      error: { code: "BAD_REQUEST", message: "'reason' must be a non-empty string: got 7" },
    });
  });
  await t.step("a body not sent as application/json: 415 JSON", async () => {
    const response = await ops.request("/v1/admin/bans", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ cidr: "10.0.0.0/8" }),
    }, LOOPBACK);
    assert.equal(response.status, 415);
    assert.equal((await response.json()).error.code, "UNSUPPORTED_MEDIA_TYPE");
    assert.equal(control.banned.length, 1);
  });
  await t.step("unban of a CIDR (URL-encoded) removes it; again is 404", async () => {
    const path = `/v1/admin/bans/${encodeURIComponent("203.0.113.0/24")}`;
    assert.equal((await ops.request(path, { method: "DELETE" }, LOOPBACK)).status, 200);
    assert.equal(control.banned.length, 0);
    assert.equal((await ops.request(path, { method: "DELETE" }, LOOPBACK)).status, 404);
  });
});

Deno.test("admin request bodies over the limit get 413 JSON", async () => {
  const { ops, control } = app({ maxBodyBytes: 64 });
  const response = await ops.request("/v1/admin/bans", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ cidr: "10.0.0.0/8", reason: "x".repeat(200) }),
  }, LOOPBACK);
  assert.equal(response.status, 413);
  assert.equal((await response.json()).error.code, "PAYLOAD_TOO_LARGE");
  assert.equal(control.banned.length, 0);
});

Deno.test("a chunked admin body (no Content-Length) is read up to the limit and passed on whole", async (t) => {
  const chunked = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += 16) controller.enqueue(bytes.subarray(i, i + 16));
        controller.close();
      },
    });
  const post = (ops: ReturnType<typeof app>["ops"], text: string) =>
    ops.request("/v1/admin/bans", {
      method: "POST",
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
      body: chunked(text),
      duplex: "half",
    } as RequestInit, LOOPBACK);
  await t.step("over the limit: 413", async () => {
    const { ops, control } = app({ maxBodyBytes: 64 });
    const response = await post(
      ops,
      JSON.stringify({ cidr: "10.0.0.0/8", reason: "x".repeat(200) }),
    );
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error.code, "PAYLOAD_TOO_LARGE");
    assert.equal(control.banned.length, 0);
  });
  await t.step("within it: the route reads the whole body", async () => {
    const { ops, control } = app({ maxBodyBytes: 1024 });
    const response = await post(
      ops,
      JSON.stringify({ cidr: "10.0.0.0/8", reason: "y".repeat(100) }),
    );
    assert.equal(response.status, 201, await response.clone().text());
    assert.equal(control.banned.length, 1);
  });
});

Deno.test("admin listings are paged", async (t) => {
  const { ops } = app();
  await t.step("first page has nextOffset", async () => {
    const body = await (await ops.request("/v1/admin/reservations?limit=100", {}, LOOPBACK)).json();
    assert.equal(body.total, 250);
    assert.equal(body.items.length, 100);
    assert.equal(body.nextOffset, 100);
  });
  await t.step("last page has none", async () => {
    const body =
      await (await ops.request("/v1/admin/reservations?limit=100&offset=200", {}, LOOPBACK)).json();
    assert.equal(body.items.length, 50);
    assert.equal(body.items[0].peer, "peer-200");
    assert.equal(body.nextOffset, undefined);
  });
  await t.step("a bad limit is 400", async () => {
    const response = await ops.request("/v1/admin/peers?limit=0", {}, LOOPBACK);
    assert.equal(response.status, 400);
    assert.equal(
      (await response.json()).error.message,
      "'limit' must be an integer from 1 to 1000: got 0",
    );
    assert.equal((await ops.request("/v1/admin/peers?limit=5000", {}, LOOPBACK)).status, 400);
  });
});

Deno.test("admin drain, resume and disconnect reach the control and leave audit lines", async () => {
  const records: LogRecord[] = [];
  configureSync({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["hopd", "audit"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["memory"] },
    ],
  });
  try {
    const { ops, control } = app();
    assert.equal((await ops.request("/v1/admin/drain", { method: "POST" }, LOOPBACK)).status, 200);
    assert.equal(control.draining, true);
    assert.equal((await ops.request("/v1/admin/resume", { method: "POST" }, LOOPBACK)).status, 200);
    assert.equal(control.draining, false);
    const response = await ops.request(
      "/v1/admin/peers/12D3KooWabc/disconnect",
      { method: "POST" },
      LOOPBACK,
    );
    assert.deepEqual(await response.json(), { peer: "12D3KooWabc", closed: 2 });
    assert.deepEqual(control.disconnected, ["12D3KooWabc"]);
    const actions = records.map((r) => r.properties.action);
    assert.deepEqual(actions, ["drain", "resume", "disconnect"]);
    assert.ok(records.every((r) => r.properties.ip === "127.0.0.1"));
  } finally {
    resetSync();
  }
});

Deno.test("/v1/* answers 429 with Retry-After when the HTTP limiter refuses; probes are exempt", async () => {
  const refused = new Set<string>(["203.0.113.7"]);
  const { ops } = app(
    { token: TOKEN, allowRemote: true },
    (ip) => refused.has(ip) ? { ok: false, retryAfterMs: 2_500 } : { ok: true },
  );
  const limited = await ops.request("/v1/admin/bans", bearer(TOKEN), REMOTE);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "3");
  assert.equal((await limited.json()).error.code, "RATE_LIMITED");
  assert.equal((await ops.request("/ready", {}, REMOTE)).status, 200);
  assert.equal((await ops.request("/v1/admin/bans", bearer(TOKEN), LOOPBACK)).status, 200);
});

// Issue 15, item 5: after a ban on 127.0.0.0/8 the unban from loopback answered 429
// RATE_LIMITED: the ban locked the operator out, and the error did not say why.
Deno.test("no ban locks the operator out of /v1, and a banned caller is told it is banned", async (t) => {
  const clock = new ManualClock(1_000);
  const bans = new BanList({ clock });
  const limiter = createLimiter(limiterConfigFrom(defaultConfig()), { clock, bans });
  const { ops } = app(
    { token: TOKEN, allowRemote: true },
    (ip, caller) => limiter.checkHttp(ip, caller),
  );
  bans.ban({ kind: "cidr", value: "0.0.0.0/0" });
  bans.ban({ kind: "cidr", value: "::/0" });
  const loopbackV6: { remoteAddr: Deno.NetAddr } = {
    remoteAddr: { transport: "tcp", hostname: "::1", port: 5000 },
  };
  await t.step("loopback callers with the token reach the admin API", async () => {
    for (const env of [LOOPBACK, loopbackV6]) {
      const response = await ops.request("/v1/admin/bans", bearer(TOKEN), env);
      assert.equal(response.status, 200, env.remoteAddr.hostname);
      await response.body?.cancel();
    }
  });
  await t.step("a remote caller with the token reaches the admin API and /v1", async () => {
    for (const path of ["/v1/admin/bans", "/v1/status"]) {
      const response = await ops.request(path, bearer(TOKEN), REMOTE);
      assert.equal(response.status, 200, path);
      await response.body?.cancel();
    }
  });
  await t.step("a banned caller without the token is told it is banned", async () => {
    for (const [path, init] of [["/v1/status", {}], ["/v1/admin/bans", bearer("wrong")]] as const) {
      const response = await ops.request(path, init, REMOTE);
      assert.equal(response.status, 403, path);
      const body = await response.json();
      assert.equal(body.error.code, "BANNED");
      assert.match(body.error.message, /203\.0\.113\.7 .*banned/);
    }
  });
  await t.step("a loopback caller without a token reaches public /v1 routes", async () => {
    const response = await ops.request("/v1/status", {}, LOOPBACK);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
  await t.step("the rate limit still applies to the operator", async () => {
    let last = 200;
    for (let i = 0; i < 400 && last === 200; i++) {
      const response = await ops.request("/v1/status", {}, LOOPBACK);
      last = response.status;
      await response.body?.cancel();
    }
    assert.equal(last, 429);
  });
});
