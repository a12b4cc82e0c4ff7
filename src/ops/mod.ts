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

/** Whether the node should receive traffic, and if not, why. */
export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

/** The live state the ops server reads. */
export interface OpsComponents {
  readonly registry: Registry;
  readiness(): Readiness;
  status(): Record<string, unknown>;
}

/** A running ops server. */
export interface OpsServer {
  /** The bound address (the real port when port 0 was asked for). */
  readonly hostname: string;
  readonly port: number;
  shutdown(): Promise<void>;
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * Builds the ops app.
 *
 * @param components What the routes read.
 * @returns The hono app.
 */
export function createOpsApp(components: OpsComponents): Hono {
  const startedAtMs = Date.now();
  const app = new Hono();

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
export function serveOps(app: Hono, address: { hostname: string; port: number }): OpsServer {
  const server = Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
  }, app.fetch);
  const addr = server.addr as Deno.NetAddr;
  return {
    hostname: addr.hostname,
    port: addr.port,
    shutdown: () => server.shutdown(),
  };
}
