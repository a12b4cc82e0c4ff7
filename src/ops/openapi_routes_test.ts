import assert from "node:assert/strict";
import { createRoute, z } from "@hono/zod-openapi";
import { Validator } from "@seriousme/openapi-schema-validator";
import { MetricsRegistry } from "../metrics/mod.ts";
import { UnavailableError } from "../errors.ts";
import { VERSION } from "../version.ts";
import type { AdminControl } from "./admin_routes.ts";
import type { OpsHonoApp, OpsRouteGroup } from "./_env.ts";
import { buildOpsApp } from "./_app.ts";
import type { OpsComponents } from "./mod.ts";
import { honoPathToOpenApi, openApiPath, undocumentedRoutes } from "./openapi_routes.ts";
import { BAD_REQUEST_RESPONSE, V1_RESPONSES } from "./_schemas.ts";

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
      400: BAD_REQUEST_RESPONSE,
      ...V1_RESPONSES,
    },
  });
  return (app) => app.openapi(route, (c) => c.json({ name: c.req.valid("param").name }, 200));
}

function fullApp(
  overrides: Partial<OpsComponents> = {},
  extraGroups: readonly OpsRouteGroup[] = [exampleGroup()],
): OpsHonoApp {
  return buildOpsApp({
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    admin: {
      control: CONTROL,
      auth: () => ({ allowRemote: false, maxBodyBytes: 1024 }),
      parseDurationMs: () => 1_000,
    },
    httpAdmission: () => ({ ok: true }),
    // The daemon's policy group, so its schemas are checked too, and an example one.
    policy: {
      policies: () => ({ verdict: { verdict: "healthy", reasons: [] }, policies: [] }),
      decisions: () => ({ decisions: [], truncated: false }),
      restartBudget: () => ({ exhausted: false, used: 0, budget: 3 }),
      resetRestartBudget: () => {},
    },
    ...overrides,
  }, extraGroups);
}

// deno-lint-ignore no-explicit-any
type Json = any;

async function documentOf(app: OpsHonoApp): Promise<Json> {
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

Deno.test("buildOpsApp(), under createOpsApp(), refuses a group that bypasses the route schemas", () => {
  const sneaky: OpsRouteGroup = (app) => {
    app.get("/v1/sneaky", (c) => c.json({}));
  };
  assert.throws(
    () => fullApp({}, [exampleGroup(), sneaky]),
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

// Issue 15, item 8: every answer a route can give is declared in /openapi.json (DELETE
// /v1/admin/bans/{target} answered an undeclared 400). Requests generated from the document
// itself, with good and bad parameters and bodies, against controls that succeed and fail.
Deno.test("every status a route answers to generated requests is declared for it in /openapi.json", async () => {
  const failing: AdminControl = {
    ...CONTROL,
    ban: () => Promise.reject(new UnavailableError("BANS_NOT_SAVED", "disk full")),
    unban: (target) =>
      target.includes("/")
        ? Promise.reject(new UnavailableError("BANS_NOT_SAVED", "disk full"))
        : Promise.reject(new RangeError(`'${target}' is not a CIDR`)),
  };
  const working: AdminControl = {
    ...CONTROL,
    ban: (request) =>
      Promise.resolve({
        kind: "cidr",
        target: request.cidr ?? "",
        createdAt: new Date(0).toISOString(),
      }),
    unban: (target) => Promise.resolve(target.includes("/")),
  };
  const params = [
    "x",
    "203.0.113.0%2F24",
    "not-a-cidr",
    "12D3KooWLRPJAA5o6zNcWJjW3QLRzSmt1CjSWAHe1TBeNTNXdBWi",
  ];
  const queries = ["", "?limit=-1&offset=abc", "?limit=100000", "?limit=5&policy=p"];
  const bodies = [
    undefined,
    "{",
    "[]",
    '{"cidr":"203.0.113.0/24","ttl":"1h"}',
    '{"peer":"x","cidr":"y"}',
  ];
  let requests = 0;
  for (const control of [working, failing]) {
    // Every 7th /v1 request is refused by the limiter and every 11th as banned, so 429 and
    // 403 must be declared too.
    let calls = 0;
    const app = fullApp({
      admin: {
        control,
        auth: () => ({ allowRemote: false, maxBodyBytes: 1024 }),
        parseDurationMs: () => 1_000,
      },
      httpAdmission: () =>
        ++calls % 7 === 0
          ? { ok: false, retryAfterMs: 1 }
          : calls % 11 === 0
          ? { ok: false, reason: "banned" }
          : { ok: true },
      federation: {
        view: () => ({ enabled: false, self: "x", topic: "t", members: [] }),
      },
    });
    const document = await documentOf(app);
    for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
      for (const [method, operation] of Object.entries(item as Record<string, Json>)) {
        const declared = new Set(Object.keys(operation.responses));
        for (const param of params) {
          for (const query of queries) {
            for (const body of method === "post" ? bodies : [undefined]) {
              const url = path.replace(/\{[^}]+\}/g, param) + query;
              const response = await app.request(url, {
                method: method.toUpperCase(),
                ...(body === undefined
                  ? {}
                  : { body, headers: { "content-type": "application/json" } }),
              });
              await response.body?.cancel();
              requests++;
              assert.ok(
                declared.has(String(response.status)),
                `${method.toUpperCase()} ${url} ${body ?? ""} answered ${response.status}, ` +
                  `not declared (declared: ${[...declared].join(", ")})`,
              );
            }
          }
        }
      }
    }
  }
  assert.ok(requests > 300, `${requests} requests`);
});

Deno.test("a method a path does not serve answers 405 with Allow, an unknown path 404", async () => {
  const app = fullApp();
  const cases: [string, string, number, string | null][] = [
    ["PUT", "/v1/admin/bans", 405, "GET, HEAD, POST"],
    ["PATCH", "/v1/admin/bans/203.0.113.0%2F24", 405, "DELETE"],
    ["POST", "/health", 405, "GET, HEAD"],
    ["DELETE", "/v1/decisions", 405, "GET, HEAD"],
    ["GET", "/v1/nothing-here", 404, null],
    ["POST", "/v1/nothing-here", 404, null],
  ];
  for (const [method, path, status, allow] of cases) {
    const response = await app.request(path, { method });
    assert.equal(response.status, status, `${method} ${path}`);
    assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
    const body = await response.json();
    assert.equal(body.error.code, status === 405 ? "METHOD_NOT_ALLOWED" : "NOT_FOUND");
  }
});
