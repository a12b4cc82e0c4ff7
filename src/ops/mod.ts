/**
 * The ops HTTP server (hono on node:http, its own listener behind the socket guard): liveness, readiness,
 * Prometheus metrics, the JSON status and admin APIs, the status page (`GET /`) and the
 * OpenAPI 3.1 document of all of them (`GET /openapi.json`). It reads live state only
 * through the functions it is given, so it can be tested in-process with `app.request()`.
 *
 * Routes come in groups, one file each, every route declared with `createRoute` (zod
 * schemas for params, query, body and responses) so /openapi.json is generated from the
 * code that serves it, and bad input is refused by the schema (400 `BAD_REQUEST`, through
 * the same `onError` as every other error):
 *
 * - `health_routes.ts`: /health, /ready, /metrics
 * - `status_routes.ts`: /v1/status
 * - `admin_routes.ts`: /v1/admin/* (auth, body limit, audit)
 * - `policy_routes.ts`: /v1/policies… (when the policy engine runs)
 * - `federation_routes.ts`: /v1/federation, /v1/select
 * - `status_page_routes.ts`: / (the HTML status page)
 * - `openapi_routes.ts`: /openapi.json
 *
 * Adding a group: write `src/ops/<name>_routes.ts` exporting `<name>Routes(components):
 * OpsRouteGroup`, a function that gets the hono app and calls `app.openapi(createRoute({...}),
 * handler)` per route (shared schemas and the error responses are in `_schemas.ts`: a /v1
 * route declares `...V1_RESPONSES`, the 403 and 429 of the limiter, or an admin one
 * `...ADMIN_GUARD_RESPONSES`; guard middleware goes first, as `app.use("/v1/<prefix>/*", …)`),
 * with its tests beside it; then register it in `_app.ts` (`buildOpsApp`), its components a
 * field of {@linkcode OpsComponents} that `src/daemon/ops_service.ts` fills. Every route under
 * /v1 is rate limited per caller IP, and every route under /v1/admin needs the admin token.
 * `createOpsApp` throws a TypeError naming any route that bypasses the schemas (a plain
 * `app.get()`), so the daemon's start and every test that builds the app catch it. The hono
 * app stays inside src/ops: callers get an {@linkcode OpsApp}, requests in and responses out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricsRegistry } from "../metrics/mod.ts";
 * import { createOpsApp } from "./mod.ts";
 *
 * const app = createOpsApp({
 *   registry: new MetricsRegistry(),
 *   readiness: () => ({ ready: true, reasons: [] }),
 *   status: () => ({ peerId: "12D3KooW…" }),
 * });
 * const response = await app.request("/v1/status");
 * assert.deepEqual(await response.json(), { peerId: "12D3KooW…" });
 * ```
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import http from "node:http";
import type net from "node:net";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import type { MetricsRegistry } from "../metrics/mod.ts";
import { listenCause, ListenError } from "../errors.ts";
import { type GuardedServerInit, relistenWith } from "../sockets/mod.ts";
import { buildOpsApp } from "./_app.ts";
import type { OpsApp } from "./_env.ts";
import type { AdminAuthConfig, AdminControl } from "./admin_routes.ts";
import type { FederationRoutesComponents } from "./federation_routes.ts";
import type { Readiness } from "./health_routes.ts";
import type { PolicyRoutesComponents } from "./policy_routes.ts";

export type { AdminAuthConfig, AdminControl, BanRequest, BanView } from "./admin_routes.ts";
export type { OpsApp, OpsEnv } from "./_env.ts";
export type { FederationRoutesComponents } from "./federation_routes.ts";
export type { Readiness } from "./health_routes.ts";
export type { PolicyRoutesComponents } from "./policy_routes.ts";

/** The answer of the HTTP rate limiter for one request. */
export type HttpAdmission = { readonly ok: true } | {
  readonly ok: false;
  /** `"banned"` and `"denied"` answer 403 saying so; anything else is a 429. */
  readonly reason?: string;
  readonly retryAfterMs?: number;
};

/** Who sends a /v1 request, as the HTTP limiter needs to know. */
export interface HttpCaller {
  /** On loopback, or with the admin token: bans and the deny list never refuse it. */
  readonly operator: boolean;
}

/** The live state the ops server reads, and the controls it may drive. */
export interface OpsComponents {
  /** Where /metrics reads from. */
  readonly registry: MetricsRegistry;
  /** The node's readiness, for /ready. */
  readiness(): Readiness;
  /** The uptime of /health. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
  /** The body of /v1/status, as the daemon builds it. */
  status(): Record<string, unknown>;
  /** The admin API; absent = no /v1/admin routes. */
  readonly admin?: {
    readonly control: AdminControl;
    /** Read per request, so a reload can change the token. */
    readonly auth: () => AdminAuthConfig;
    readonly parseDurationMs: (text: string) => number | undefined;
  };
  /** Rate limit, bans and deny list of /v1/* requests per caller IP; absent = unlimited. */
  readonly httpAdmission?: (ip: string, caller: HttpCaller) => HttpAdmission;
  /**
   * The policy engine, for /v1/policies…; absent = no policy routes (the engine is off).
   * Registered after the built-in groups, as the federation's: /v1/* is rate limited and
   * /v1/admin/* authenticated for them too.
   */
  readonly policy?: PolicyRoutesComponents;
  /** The federation, for /v1/federation and /v1/select; absent = no federation routes. */
  readonly federation?: FederationRoutesComponents;
}

/** A running ops server. */
export interface OpsServer {
  /** The bound address (the real port when port 0 was asked for). */
  readonly hostname: string;
  /** The bound port. */
  readonly port: number;
  /** Closes the listener and waits for open requests to finish. */
  shutdown(): Promise<void>;
}

/** How long a stopping ops server lets requests in flight finish. */
const OPS_SHUTDOWN_GRACE_MS = 2_000;

/**
 * Builds the ops app: probes and /metrics, /v1/status, the admin, policy and federation routes
 * whose components are given, the status page and /openapi.json.
 *
 * @param components What the routes read.
 * @returns The app, for {@linkcode serveOps} or in-process requests.
 * @throws {TypeError} When a route bypasses the route schemas (a plain `app.get()`).
 */
export function createOpsApp(components: OpsComponents): OpsApp {
  return buildOpsApp(components);
}

/** The part of the socket guard the ops server drives (src/sockets). */
export interface OpsSocketGuard {
  /** Puts the server's sockets behind the guard. */
  attach(server: net.Server, init: GuardedServerInit): void;
  /** A request head was read on `socket`: it is served until the request deadline. */
  requestStarted(socket: net.Socket): void;
  /** The response on `socket` was sent: it may wait for the next request until idle. */
  requestFinished(socket: net.Socket): void;
}

/** Where and how the ops server listens. */
export interface ServeOpsOptions {
  /** The interface to listen on. */
  readonly hostname: string;
  /** The port; 0 picks a free one. */
  readonly port: number;
  /**
   * Bounds its sockets and gives each phase a deadline (request head, request, kept-alive
   * idle); absent = unguarded (tests).
   */
  readonly guard?: OpsSocketGuard;
  /** The shutdown grace timer. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/**
 * Serves `app` on its own listener: node:http, with every accepted socket behind the socket
 * guard. (Deno.serve accepts in a loop hopd cannot gate, has no header or idle deadline,
 * and rejects with an uncaught EMFILE that ends the process at the file descriptor limit.)
 *
 * @param app The ops app.
 * @param options Where to listen, and the guard.
 * @returns The running server.
 * @throws {ListenError} When the address is taken or cannot be bound (one line naming
 *   `http.listen`, the address and the cause).
 */
export async function serveOps(app: OpsApp, options: ServeOpsOptions): Promise<OpsServer> {
  const { guard } = options;
  const handle = getRequestListener(
    (request, env) => {
      const socket = (env as HttpBindings).incoming.socket;
      const remoteAddr: Deno.NetAddr = {
        transport: "tcp",
        hostname: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
      };
      return app.fetch(withBody(request), { remoteAddr });
    },
    // Its lighter Request and Response would replace the globals the rest of hopd uses.
    { overrideGlobalObjects: false },
  );
  const server = http.createServer((request, response) => {
    const socket = request.socket;
    guard?.requestStarted(socket);
    response.once("finish", () => guard?.requestFinished(socket));
    void handle(request, response);
  });
  const listenOptions: net.ListenOptions = { host: options.hostname, port: options.port };
  guard?.attach(server, {
    label: "ops",
    firstPhase: "header",
    relisten: relistenWith(server, listenOptions),
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(listenError(error, options));
    server.once("error", onError);
    server.listen(listenOptions, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    hostname: addr.address,
    port: addr.port,
    shutdown: () => closeServer(server, options.clock ?? SYSTEM_CLOCK),
  };
}

// The adapter's requests are a lighter class that Deno's Request constructor does not take,
// and hono's body limit re-wraps the request it read (`new Request(raw, { body })`): a
// request that may carry a body is handed on as a real Request.
function withBody(request: Request): Request {
  if (request.method === "GET" || request.method === "HEAD") return request;
  return new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    signal: request.signal,
  });
}

// node:http reports a failed bind with an errno code; the rest of hopd (and its tests) know
// Deno's error classes.
function listenError(error: Error, at: { hostname: string; port: number }): Error {
  const code = (error as Error & { code?: string }).code;
  const host = at.hostname.includes(":") ? `[${at.hostname}]` : at.hostname;
  return new ListenError(
    `Cannot listen on ${host}:${at.port} (http.listen): ${listenCause(code ?? error.message)}`,
    { cause: error },
  );
}

// Stops accepting, closes kept-alive connections, lets requests in flight finish for up to
// OPS_SHUTDOWN_GRACE_MS, then closes whatever is left.
function closeServer(server: http.Server, clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => server.closeAllConnections(), OPS_SHUTDOWN_GRACE_MS);
    server.close(() => {
      clock.clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
