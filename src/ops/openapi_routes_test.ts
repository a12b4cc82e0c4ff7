import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Registry } from "prom-client";
import { VERSION } from "../version.ts";
import type { AdminControl } from "./admin_routes.ts";
import { createOpsApp, type OpsApp, type OpsComponents, type OpsRouteGroup } from "./mod.ts";
import { honoPathToOpenApi, openApiPath, undocumentedRoutes } from "./openapi_routes.ts";
import { policyRoutes } from "./policy_routes.ts";

const CONTROL: AdminControl = {
  bans: () => [],
  ban: () => Promise.reject(new Error("unused")),
  unban: () => Promise.resolve(false),
  reservations: () => [],
  circuits: () => [],
  peers: () => [],
  drain: () => {},
  resume: () => {},
  disconnect: () => Promise.resolve(0),
};

/** A group like the ones other components add (federation, policies). */
function exampleGroup(): OpsRouteGroup {
  const route = createRoute({
    method: "get",
    path: "/v1/example/{name}",
    request: { params: z.object({ name: z.string().min(2) }) },
    responses: {
      200: {
        description: "Example",
        content: { "application/json": { schema: z.object({ name: z.string() }) } },
      },
    },
  });
  return (app) => app.openapi(route, (c) => c.json({ name: c.req.valid("param").name }, 200));
}

function fullApp(overrides: Partial<OpsComponents> = {}): OpsApp {
  return createOpsApp({
    registry: new Registry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    admin: {
      control: CONTROL,
      auth: () => ({ allowRemote: false, maxBodyBytes: 1024 }),
      parseDurationMs: () => 1_000,
    },
    httpAdmission: () => ({ ok: true }),
    // The daemon's groups, so their schemas are checked too, and an example one.
    routeGroups: [
      policyRoutes({
        policies: () => ({ verdict: { verdict: "healthy", reasons: [] }, policies: [] }),
        decisions: () => ({ decisions: [], truncated: false }),
        restartBudget: () => ({ exhausted: false, used: 0, budget: 3 }),
        resetRestartBudget: () => {},
      }),
      exampleGroup(),
    ],
    ...overrides,
  });
}

// deno-lint-ignore no-explicit-any
type Json = any;

async function documentOf(app: OpsApp): Promise<Json> {
  const response = await app.request("/openapi.json");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  return await response.json();
}

Deno.test("every route registered on the ops app is in /openapi.json", async () => {
  const app = fullApp();
  const document = await documentOf(app);
  const routes = new Set(
    app.routes.filter((r) => r.method !== "ALL").map((r) =>
      `${r.method} ${honoPathToOpenApi(r.path)}`
    ),
  );
  // The built-in groups, the admin API and an added group are all there.
  for (
    const expected of [
      "GET /",
      "GET /health",
      "GET /ready",
      "GET /metrics",
      "GET /openapi.json",
      "GET /v1/status",
      "GET /v1/admin/bans",
      "POST /v1/admin/bans",
      "DELETE /v1/admin/bans/{target}",
      "GET /v1/admin/reservations",
      "GET /v1/admin/circuits",
      "GET /v1/admin/peers",
      "POST /v1/admin/peers/{peer}/disconnect",
      "POST /v1/admin/drain",
      "POST /v1/admin/resume",
      "GET /v1/policies",
      "GET /v1/decisions",
      "POST /v1/admin/policies/restart-budget/reset",
      "GET /v1/example/{name}",
    ]
  ) assert.ok(routes.has(expected), `app.routes lacks ${expected}`);
  for (const route of routes) {
    const [method, path] = route.split(" ") as [string, string];
    assert.ok(
      document.paths[path]?.[method.toLowerCase()] !== undefined,
      `${route} is served but not in /openapi.json`,
    );
  }
  // And the document names nothing that is not served.
  const documented = Object.entries(document.paths as Record<string, Json>).flatMap((
    [path, item],
  ) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
  assert.deepEqual(new Set(documented), routes);
});

Deno.test("/openapi.json is a valid OpenAPI 3.1 document with the version and the admin scheme", async () => {
  const document = await documentOf(fullApp());
  const validator = new Validator();
  const result = await validator.validate(document);
  assert.equal(validator.version, "3.1");
  assert.deepEqual(result, { valid: true });
  assert.equal(document.openapi, "3.1.0");
  assert.equal(document.info.version, VERSION);
  assert.deepEqual(
    { type: document.components.securitySchemes.adminToken.type, scheme: "bearer" },
    { type: "http", scheme: document.components.securitySchemes.adminToken.scheme },
  );
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    for (const [method, operation] of Object.entries(item as Record<string, Json>)) {
      const secured = JSON.stringify(operation.security ?? []).includes("adminToken");
      assert.equal(secured, path.startsWith("/v1/admin/"), `security of ${method} ${path}`);
      assert.ok(Object.keys(operation.responses).length > 0, `${method} ${path} has responses`);
    }
  }
  const ban = document.paths["/v1/admin/bans"].post;
  assert.ok(ban.requestBody.content["application/json"].schema);
  const page = document.paths["/v1/admin/peers"].get.parameters.map((p: Json) => p.name);
  assert.deepEqual(page.sort(), ["limit", "offset"]);
  assert.ok(document.paths["/v1/status"].get.responses["429"], "/v1 routes document 429");
});

Deno.test("the validator refuses a broken document (the check above can fail)", async () => {
  const document = await documentOf(fullApp());
  document.paths["/health"].get.responses = "none";
  assert.equal((await new Validator().validate(document)).valid, false);
});

Deno.test("createOpsApp() refuses a group that bypasses the route schemas", () => {
  const sneaky: OpsRouteGroup = (app) => {
    app.get("/v1/sneaky", (c) => c.json({}));
  };
  assert.throws(
    () => fullApp({ routeGroups: [exampleGroup(), sneaky] }),
    (error: Error) =>
      error instanceof TypeError && error.message.includes("GET /v1/sneaky") &&
      !error.message.includes("/v1/example"),
  );
});

Deno.test("undocumentedRoutes() names plain routes and ignores middleware", () => {
  const app = fullApp();
  assert.deepEqual(undocumentedRoutes(app), []);
  app.use("/v1/other/*", async (_c, next) => await next());
  app.post("/v1/admin/bans/:target{.+}/note", (c) => c.json({}));
  assert.deepEqual(undocumentedRoutes(app), ["POST /v1/admin/bans/{target}/note"]);
});

Deno.test("an added route group validates with the shared hook and sits behind /v1's limiter", async () => {
  let refuse = false;
  const app = fullApp({
    httpAdmission: () => refuse ? { ok: false, retryAfterMs: 1 } : { ok: true },
  });
  assert.deepEqual(await (await app.request("/v1/example/ab")).json(), { name: "ab" });
  const bad = await app.request("/v1/example/a");
  assert.equal(bad.status, 400);
  const body = await bad.json();
  assert.equal(body.error.code, "BAD_REQUEST");
  assert.match(body.error.message, /^'name' .+: got a$/);
  refuse = true;
  assert.equal((await app.request("/v1/example/ab")).status, 429);
});

Deno.test("regex path parameters become plain OpenAPI parameters", async (t) => {
  const cases: [string, string, string][] = [
    ["/v1/admin/bans/{target{.+}}", "/v1/admin/bans/{target}", "/v1/admin/bans/:target{.+}"],
    ["/a/{id{[0-9]+}}/b", "/a/{id}/b", "/a/:id{[0-9]+}/b"],
    ["/plain/{x}", "/plain/{x}", "/plain/:x"],
  ];
  for (const [registered, documented, hono] of cases) {
    await t.step(registered, () => {
      assert.equal(openApiPath(registered), documented);
      assert.equal(honoPathToOpenApi(hono), documented);
    });
  }
});
