import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ConfigError } from "../errors.ts";
import net from "node:net";
import { FdBudget, SocketGuard } from "../sockets/mod.ts";
import {
  type AdminControl,
  type BanView,
  createOpsApp,
  type OpsComponents,
  type Readiness,
  serveOps,
} from "./mod.ts";
import { ManualClock } from "../clock/mod.ts";
import { buildOpsApp } from "./_app.ts";

function components(overrides: Partial<OpsComponents> = {}): OpsComponents {
  return {
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    ...overrides,
  };
}

Deno.test("GET /ready answers 200 or 503 with the readiness reasons", async (t) => {
  const cases: [string, Readiness, number][] = [
    ["ready", { ready: true, reasons: [] }, 200],
    ["draining", { ready: false, reasons: ["node is draining"] }, 503],
    ["two reasons", { ready: false, reasons: ["no listeners", "identity missing"] }, 503],
  ];
  for (const [name, readiness, status] of cases) {
    await t.step(`${name}: ${status}`, async () => {
      const app = createOpsApp(components({ readiness: () => readiness }));
      const response = await app.request("/ready");
      assert.equal(response.status, status);
      assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
      assert.deepEqual(await response.json(), readiness);
    });
  }
});

Deno.test("GET /ready asks for readiness on every request", async () => {
  let readiness: Readiness = { ready: true, reasons: [] };
  const app = createOpsApp(components({ readiness: () => readiness }));
  assert.equal((await app.request("/ready")).status, 200);
  readiness = { ready: false, reasons: ["node is draining"] };
  const response = await app.request("/ready");
  assert.equal(response.status, 503);
  assert.deepEqual((await response.json()).reasons, ["node is draining"]);
});

Deno.test("GET /health answers 200 with status ok and an uptime, whatever readiness says", async () => {
  const clock = new ManualClock();
  const app = createOpsApp(components({
    readiness: () => ({ ready: false, reasons: ["node is draining"] }),
    clock,
  }));
  clock.advance(1_500);
  const response = await app.request("/health");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok", uptimeSeconds: 1.5 });
});

Deno.test("GET /metrics answers the registry's text with prom-client's content type", async () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter({
    name: "hopd_test_things_total",
    help: "Things counted by the test.",
  });
  counter.inc(3);
  const app = createOpsApp(components({ registry }));

  const response = await app.request("/metrics");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), registry.contentType);
  assert.match(registry.contentType, /^text\/plain/);
  const text = await response.text();
  assert.equal(text, await registry.metrics());
  assert.ok(text.includes("hopd_test_things_total 3"), text);
});

Deno.test("GET /v1/status answers the status object as JSON", async () => {
  const status = { peerId: "12D3KooWtest", ready: true, connections: { total: 2 }, listen: [] };
  const app = createOpsApp(components({ status: () => status }));
  const response = await app.request("/v1/status");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), status);
});

Deno.test("an unknown route answers 404 JSON naming the method and path", async (t) => {
  const app = createOpsApp(components());
  const cases: [string, string][] = [["GET", "/nope"], ["POST", "/nope"], ["GET", "/v1/nope"]];
  for (const [method, path] of cases) {
    await t.step(`${method} ${path}`, async () => {
      const response = await app.request(path, { method });
      assert.equal(response.status, 404);
      const body = await response.json();
      assert.equal(body.error.code, "NOT_FOUND");
      assert.equal(body.error.message, `No route for ${method} ${path}`);
    });
  }
});

Deno.test("a route that throws answers 500 JSON without leaking the error's message", async (t) => {
  await t.step("a route added to the built app", async () => {
    const app = buildOpsApp(components());
    app.get("/boom", () => {
      throw new Error("secret database password");
    });
    const response = await app.request("/boom");
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.deepEqual(JSON.parse(text), { error: { code: "INTERNAL", message: "Internal error" } });
    assert.ok(!text.includes("secret"));
  });
  await t.step("a status() that throws", async () => {
    const app = createOpsApp(components({
      status: () => {
        throw new Error("secret state");
      },
    }));
    const response = await app.request("/v1/status");
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.equal(JSON.parse(text).error.code, "INTERNAL");
    assert.ok(!text.includes("secret"));
  });
  await t.step("a registry whose metrics() rejects", async () => {
    const registry = new MetricsRegistry();
    registry.metrics = () => Promise.reject(new Error("secret collector"));
    const app = createOpsApp(components({ registry }));
    const response = await app.request("/metrics");
    assert.equal(response.status, 500);
    assert.ok(!(await response.text()).includes("secret"));
  });
});

Deno.test("onError maps HopdError to 400 with its code and HTTPException to its status", async (t) => {
  await t.step("HopdError", async () => {
    const app = createOpsApp(components({
      status: () => {
        throw new ConfigError("Cannot load config as 'x' is bad");
      },
    }));
    const response = await app.request("/v1/status");
    assert.equal(response.status, 400);
    assert.deepEqual(await response.json(), {
      error: { code: "CONFIG_INVALID", message: "Cannot load config as 'x' is bad" },
    });
  });
  await t.step("HTTPException", async () => {
    const app = buildOpsApp(components());
    app.get("/teapot", () => {
      throw new HTTPException(418, { message: "short and stout" });
    });
    const response = await app.request("/teapot");
    assert.equal(response.status, 418);
    assert.deepEqual(await response.json(), {
      error: { code: "HTTP_ERROR", message: "short and stout" },
    });
  });
});

Deno.test("serveOps() serves the app on port 0 and reports the bound port", async () => {
  const server = await serveOps(createOpsApp(components()), { hostname: "127.0.0.1", port: 0 });
  try {
    assert.equal(server.hostname, "127.0.0.1");
    assert.ok(server.port > 0);
    const response = await fetch(`http://127.0.0.1:${server.port}/ready`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { ready: true, reasons: [] });
  } finally {
    await server.shutdown();
  }
});

/** An admin control that records what it was asked and holds no state. */
function recordingControl(calls: string[]): AdminControl {
  return {
    bans: () => [],
    ban: (request) => {
      calls.push(`ban ${request.cidr ?? request.peer}`);
      return Promise.resolve({
        kind: "cidr",
        value: request.cidr ?? "",
        reason: request.reason ?? "",
        createdAt: new Date(0).toISOString(),
      } as unknown as BanView);
    },
    unban: (target) => {
      calls.push(`unban ${target}`);
      return Promise.resolve(true);
    },
    reservations: () => [],
    circuits: () => [],
    peers: () => [],
    drain: () => void calls.push("drain"),
    resume: () => void calls.push("resume"),
    disconnect: () => Promise.resolve(0),
  };
}

Deno.test("serveOps() carries request bodies over a real socket, through the admin body limit", async () => {
  const calls: string[] = [];
  const app = createOpsApp(components({
    admin: {
      control: recordingControl(calls),
      auth: () => ({ allowRemote: false, maxBodyBytes: 64, token: undefined }),
      parseDurationMs: () => undefined,
    },
  }));
  const server = await serveOps(app, { hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${server.port}`;
  try {
    const drain = await fetch(`${url}/v1/admin/drain`, { method: "POST" });
    assert.equal(drain.status, 200, await drain.text());
    const unban = await fetch(`${url}/v1/admin/bans/192.0.2.1`, { method: "DELETE" });
    assert.equal(unban.status, 200, await unban.text());
    const ban = await fetch(`${url}/v1/admin/bans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ cidr: "192.0.2.0/24" }),
    });
    await ban.body?.cancel();
    assert.deepEqual(calls, ["drain", "unban 192.0.2.1", "ban 192.0.2.0/24"]);
    const tooBig = await fetch(`${url}/v1/admin/bans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ cidr: "192.0.2.0/24", reason: "x".repeat(100) }),
    });
    assert.equal(tooBig.status, 413);
    await tooBig.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveOps() with a socket guard closes a half-sent request at the header deadline and a kept-alive connection when idle, never one being served", async () => {
  const clock = new ManualClock(0);
  const guard = new SocketGuard({
    group: "ops",
    limits: { maxPerIp: 8, maxPerSubnet: 8, maxTotal: 8 },
    timeouts: { headerMs: 1_000, handshakeMs: 1_000, requestMs: 10_000, idleMs: 2_000 },
    fds: new FdBudget({ reserve: 0, probe: { free: (max) => max }, clock }),
    fdKeep: 0,
    clock,
    subnetPrefixV4: 24,
    subnetPrefixV6: 48,
  });
  let release: () => void = () => {};
  const slow = new Promise<void>((resolve) => (release = resolve));
  const app = buildOpsApp(components({
    status: () => ({}),
    readiness: () => ({ ready: true, reasons: [] }),
  }));
  app.get("/slow", async (c) => {
    await slow;
    return c.text("done");
  });
  const server = await serveOps(app, { hostname: "127.0.0.1", port: 0, guard });
  const arrived: (() => void)[] = [];
  const open = (payload: string) => {
    const socket = net.connect(
      { host: "127.0.0.1", port: server.port },
      () => socket.write(payload),
    );
    socket.on("error", () => {});
    let received = "";
    socket.on("data", (chunk) => {
      received += chunk;
      arrived.splice(0).forEach((wake) => wake());
    });
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    return { socket, closed, received: () => received };
  };
  // Checks again on each change the guard counts or bytes a client receives.
  const until = async (check: () => boolean) => {
    while (!check()) {
      await Promise.race([guard.changed(), new Promise<void>((wake) => arrived.push(wake))]);
    }
  };
  const count = (state: string) => guard.stats().sockets.get("ops")?.get(state) ?? 0;
  try {
    const halfSent = open("GET /ready HTTP/1.1\r\nHost: ops\r\n");
    const keptAlive = open("GET /ready HTTP/1.1\r\nHost: ops\r\n\r\n");
    const served = open("GET /slow HTTP/1.1\r\nHost: ops\r\n\r\n");
    await until(() => keptAlive.received().includes("\r\n\r\n") && count("active") === 1);
    assert.equal(count("header"), 1);
    assert.equal(count("idle"), 1);
    clock.advance(1_000);
    guard.tick();
    await halfSent.closed;
    clock.advance(1_000);
    guard.tick();
    await keptAlive.closed;
    assert.ok(!served.socket.destroyed, "a request being served is not closed");
    release();
    await until(() => served.received().includes("done"));
    served.socket.destroy();
    const stats = guard.stats().timeouts;
    assert.equal(stats.get("ops header"), 1);
    assert.equal(stats.get("ops idle"), 1);
  } finally {
    release();
    await server.shutdown();
  }
});
