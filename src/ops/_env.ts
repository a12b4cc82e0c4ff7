/**
 * Shared bits of the ops app: its hono environment (the caller's address arrives from
 * the server as a binding), the app (as hopd hands it out, and as route groups see it) and
 * route-group types, and the JSON error shape.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";

/** Hono environment of the ops app: the caller's address as a binding. */
export interface OpsEnv {
  /**
   * What the server binds per request: the TCP peer's address (absent in `app.request()` tests).
   */
  Bindings: { remoteAddr?: Deno.Addr };
}

/**
 * The ops app as its server and in-process callers use it: requests in, responses out. A hono
 * app ({@linkcode OpsHonoApp}) underneath, which only src/ops' route groups see.
 */
export interface OpsApp {
  /**
   * Answers one request in-process (tests, as hono's `app.request()`).
   *
   * @param input A path (`"/health"`), a URL or a request.
   * @param init The request's method, headers and body.
   * @param env The caller's address, as the server binds it; absent = an in-process caller.
   * @returns The response.
   */
  request(
    input: string | URL | Request,
    init?: RequestInit,
    env?: OpsEnv["Bindings"],
  ): Response | Promise<Response>;
  /**
   * Answers one request the server read.
   *
   * @param request The request.
   * @param env The caller's address.
   * @returns The response.
   */
  fetch(request: Request, env: OpsEnv["Bindings"]): Response | Promise<Response>;
}

/** The hono app under {@linkcode OpsApp}: routes carry zod schemas and make up /openapi.json. */
export type OpsHonoApp = OpenAPIHono<OpsEnv>;

/**
 * A group of ops routes: registers its routes (with `app.openapi(createRoute(…), handler)`)
 * and the middleware that guards them (with `app.use("<prefix>/*", …)`, before its routes).
 */
export type OpsRouteGroup = (app: OpsHonoApp) => void;

/** The JSON body of every error answer. */
export function errorBody(
  code: string,
  message: string,
): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** The caller's IP, or "" when unknown (in-process requests). */
export function clientIp(c: Context<OpsEnv>): string {
  const addr = c.env?.remoteAddr;
  return addr !== undefined && "hostname" in addr ? addr.hostname : "";
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. In-process requests ("") count too. */
export function isLoopback(ip: string): boolean {
  return ip === "" || ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");
}
