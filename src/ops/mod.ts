/**
 * The ops HTTP server (hono on Deno.serve, its own listener): liveness, readiness,
 * Prometheus metrics and the JSON status API. It reads live state only through the
 * functions it is given, so it can be tested in-process with `app.request()`.
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { createOpsApp } from "./mod.ts";
 * const app = createOpsApp({
 *   registry: new Registry(),
 *   readiness: () => ({ ready: true, reasons: [] }),
 *   status: () => ({}),
 * });
 * const response = await app.request("/ready"); // 200
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Registry } from "prom-client";
import { HopdError } from "../errors.ts";
import { clientIp, errorBody, type OpsEnv } from "./_env.ts";
import { type AdminAuthConfig, type AdminControl, adminRoutes } from "./admin_routes.ts";

export type { AdminAuthConfig, AdminControl, BanRequest, BanView } from "./admin_routes.ts";
export type { OpsEnv } from "./_env.ts";

/** Whether the node should receive traffic, and if not, why. */
export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/** The answer of the HTTP rate limiter for one request. */
export type HttpAdmission = { readonly ok: true } | {
  readonly ok: false;
  readonly retryAfterMs?: number;
};

/** The live state the ops server reads, and the controls it may drive. */
export interface OpsComponents {
  readonly registry: Registry;
  readiness(): Readiness;
  status(): Record<string, unknown>;
  /** The admin API; absent = no /v1/admin routes. */
  readonly admin?: {
    readonly control: AdminControl;
    /** Read per request, so a reload can change the token. */
    readonly auth: () => AdminAuthConfig;
    readonly parseDurationMs: (text: string) => number | undefined;
  };
  /** Rate limit of /v1/* requests per caller IP; absent = unlimited. */
  readonly httpAdmission?: (ip: string) => HttpAdmission;
}

/** A running ops server. */
export interface OpsServer {
  /** The bound address (the real port when port 0 was asked for). */
  readonly hostname: string;
  readonly port: number;
  shutdown(): Promise<void>;
}

/**
 * Builds the ops app.
 *
 * @param components What the routes read.
 * @returns The hono app.
 */
export function createOpsApp(components: OpsComponents): Hono<OpsEnv> {
  const startedAtMs = Date.now();
  const app = new Hono<OpsEnv>();
  const { httpAdmission } = components;
  if (httpAdmission !== undefined) {
    // Probes (/health, /ready) and scrapes (/metrics) stay unthrottled: monitors must see
    // a node under attack.
    app.use("/v1/*", async (c, next) => {
      const verdict = httpAdmission(clientIp(c));
      if (!verdict.ok) {
        const retryAfterS = Math.max(1, Math.ceil((verdict.retryAfterMs ?? 1_000) / 1_000));
        c.header("Retry-After", String(retryAfterS));
        return c.json(errorBody("RATE_LIMITED", "Too many requests from this address"), 429);
      }
      return await next();
    });
  }

  app.get(
    "/health",
    (c) => c.json({ status: "ok", uptimeSeconds: (Date.now() - startedAtMs) / 1000 }),
  );

  app.get("/ready", (c) => {
    const { ready, reasons } = components.readiness();
    return c.json({ ready, reasons }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const text = await components.registry.metrics();
    return c.body(text, 200, { "content-type": components.registry.contentType });
  });

  app.get("/v1/status", (c) => c.json(components.status()));

  if (components.admin !== undefined) {
    const { control, auth, parseDurationMs } = components.admin;
    app.route("/v1/admin", adminRoutes(control, auth, parseDurationMs));
  }

  app.notFound((c) =>
    c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`), 404)
  );

  // The one place errors become HTTP responses.
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return c.json(errorBody("HTTP_ERROR", error.message), error.status as ContentfulStatusCode);
    }
    if (error instanceof HopdError) return c.json(errorBody(error.code, error.message), 400);
    return c.json(errorBody("INTERNAL", "Internal error"), 500);
  });

  return app;
}

/**
 * Serves `app` on its own listener.
 *
 * @param app The ops app.
 * @param address Where to listen.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the address is taken.
 */
export function serveOps(
  app: Hono<OpsEnv>,
  address: { hostname: string; port: number },
): OpsServer {
  const server = Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
  }, (request, info) => app.fetch(request, { remoteAddr: info.remoteAddr }));
  const addr = server.addr as Deno.NetAddr;
  return {
    hostname: addr.hostname,
    port: addr.port,
    shutdown: () => server.shutdown(),
  };
}
