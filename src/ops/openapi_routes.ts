/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of the ops server, generated from the zod
 * schemas every route group declares with `createRoute`, so it cannot drift from the
 * code. Register this group last: the document is built once, on first request, from
 * what the app holds then.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { TrieRouter } from "hono/router/trie-router";
import type { OpsHonoApp, OpsRouteGroup } from "./_env.ts";
import { jsonResponse } from "./_schemas.ts";

/** The document, as served. */
export type OpenApiDocument = ReturnType<OpsHonoApp["getOpenAPI31Document"]>;

const DESCRIPTION = [
  "The ops HTTP server of hopd, a libp2p relay: probes, Prometheus metrics, status, and the",
  'admin API. Every error answers `{"error":{"code","message"}}`. Routes under `/v1`',
  "are rate limited per caller IP (429 with `Retry-After`); routes under `/v1/admin` need",
  "the admin bearer token (or, with no token configured, a loopback caller).",
].join(" ");

const DocumentSchema = z.looseObject({
  openapi: z.string().openapi({ example: "3.1.0" }),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
}).openapi("OpenApiDocument");

const documentRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["meta"],
  summary: "This document",
  responses: { 200: jsonResponse(DocumentSchema, "The OpenAPI 3.1 document") },
});

/**
 * Turns hono's regex path parameters (`{target{.+}}`, from `/bans/:target{.+}`) into
 * plain OpenAPI ones (`{target}`).
 *
 * @param path A path as registered.
 * @returns The OpenAPI path.
 */
export function openApiPath(path: string): string {
  return path.replace(/\{(\w+)\{[^/]*\}\}/g, "{$1}");
}

/**
 * Turns a hono route path (`/bans/:target{.+}`) into its OpenAPI form (`/bans/{target}`).
 *
 * @param path A path from `app.routes`.
 * @returns The OpenAPI path.
 */
export function honoPathToOpenApi(path: string): string {
  return path.replace(/:(\w+)(\{[^/]*\})?/g, "{$1}");
}

/**
 * Lists the routes of `app` that /openapi.json would not describe: those added with plain
 * `app.get()`/`app.post()`/… instead of `app.openapi(createRoute(…))`, or hidden.
 *
 * @param app The ops app.
 * @returns `"METHOD /path"` of each such route (empty when all are described).
 */
export function undocumentedRoutes(app: OpsHonoApp): string[] {
  const documented = new Set<string>();
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== "route") continue;
    const { method, path } = definition.route;
    documented.add(`${method.toUpperCase()} ${openApiPath(path)}`);
  }
  const missing = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue; // middleware (app.use)
    const key = `${route.method} ${honoPathToOpenApi(route.path)}`;
    if (!documented.has(key)) missing.add(key);
  }
  return [...missing];
}

/**
 * The methods each path of `app` serves, for 405 answers: a router of the app's routes
 * (middleware left out) asked with every method. `HEAD` comes with `GET`, as hono serves it.
 *
 * @param app The ops app, with every group registered.
 * @returns The methods serving `path`, sorted; none when no route matches it.
 */
export function allowedMethods(app: OpsHonoApp): (path: string) => string[] {
  const router = new TrieRouter<string>();
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue; // middleware (app.use)
    router.add(route.method, route.path, route.method);
    methods.add(route.method);
  }
  return (path) => {
    const allowed = new Set<string>();
    for (const method of methods) {
      if (router.match(method, path)[0].length > 0) allowed.add(method);
    }
    if (allowed.has("GET")) allowed.add("HEAD");
    return [...allowed].sort();
  };
}

/**
 * Builds the document of every route registered on `app` with `app.openapi()`.
 *
 * @param app The ops app, with every group registered.
 * @param version hopd's version (the document's `info.version`).
 * @returns The OpenAPI 3.1 document.
 */
export function openApiDocument(app: OpsHonoApp, version: string): OpenApiDocument {
  const document = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "hopd ops API",
      version,
      description: DESCRIPTION,
    },
    tags: [
      { name: "probes", description: "Liveness, readiness, metrics (never rate limited)" },
      { name: "status", description: "Public, read-only state" },
      { name: "admin", description: "Authenticated controls, each audited" },
      { name: "policies", description: "The policy engine: policies, verdicts, decisions" },
      { name: "federation", description: "Federation members and relay selection" },
      { name: "meta", description: "The status page and this document" },
    ],
  });
  const paths: typeof document.paths = {};
  for (const [path, item] of Object.entries(document.paths ?? {})) paths[openApiPath(path)] = item;
  return { ...document, paths };
}

/**
 * The document route.
 *
 * @param version hopd's version.
 * @returns The route group.
 */
export function openApiRoutes(version: string): OpsRouteGroup {
  return (app) => {
    let document: OpenApiDocument | undefined;
    app.openapi(documentRoute, (c) => {
      document ??= openApiDocument(app, version);
      // The generator's type allows `undefined` members that JSON drops anyway.
      return c.json(document as unknown as z.infer<typeof DocumentSchema>, 200);
    });
  };
}
