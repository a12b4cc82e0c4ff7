import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { Counter, Registry } from "prom-client";
import { ConfigError } from "../errors.ts";
import { createOpsApp, type OpsComponents, type Readiness, serveOps } from "./mod.ts";

function components(overrides: Partial<OpsComponents> = {}): OpsComponents {
  return {
    registry: new Registry(),
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
  const app = createOpsApp(components({
    readiness: () => ({ ready: false, reasons: ["node is draining"] }),
  }));
  const response = await app.request("/health");
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.status, "ok");
  assert.equal(typeof body.uptimeSeconds, "number");
  assert.ok(body.uptimeSeconds >= 0);
});

Deno.test("GET /metrics answers the registry's text with prom-client's content type", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "hopd_test_things_total",
    help: "Things counted by the test.",
    registers: [registry],
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
  await t.step("a route added to the returned app", async () => {
    const app = createOpsApp(components());
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
    const registry = new Registry();
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
    const app = createOpsApp(components());
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
  const server = serveOps(createOpsApp(components()), { hostname: "127.0.0.1", port: 0 });
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
