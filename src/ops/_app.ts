/**
 * The ops app's builder (see `mod.ts`): every route group in order, the check that each route
 * went through the schemas, the 404/405 answers and the one `onError`. Private to src/ops: the
 * hono app it returns is what route groups register on; `createOpsApp` hands out an
 * `OpsApp`.
 *
 * @module
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HopdError, UnavailableError } from "../errors.ts";
import { VERSION } from "../version.ts";
import {
  clientIp,
  errorBody,
  isLoopback,
  type OpsEnv,
  type OpsHonoApp,
  type OpsRouteGroup,
} from "./_env.ts";
import { validationHook } from "./_schemas.ts";
import { adminRoutes, hasAdminToken } from "./admin_routes.ts";
import { federationRoutes } from "./federation_routes.ts";
import { healthRoutes } from "./health_routes.ts";
import type { OpsComponents } from "./mod.ts";
import { allowedMethods, openApiRoutes, undocumentedRoutes } from "./openapi_routes.ts";
import { policyRoutes } from "./policy_routes.ts";
import { statusPageRoutes } from "./status_page_routes.ts";
import { statusRoutes } from "./status_routes.ts";

/** Codes of the HTTP errors hono and its validators raise, by status. */
const HTTP_ERROR_CODES: Readonly<Record<number, string>> = {
  400: "BAD_REQUEST",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
};

/**
 * Builds the ops app: the built-in route groups, the policy and federation ones when their
 * components are given, then `extraGroups` (tests: a group of their own), the status page and
 * /openapi.json.
 *
 * @param components What the routes read.
 * @param extraGroups More groups, registered after the others.
 * @returns The hono app (every route registered with `app.openapi()` appears in
 *   /openapi.json).
 * @throws {TypeError} When a route bypasses the route schemas (a plain `app.get()`).
 */
export function buildOpsApp(
  components: OpsComponents,
  extraGroups: readonly OpsRouteGroup[] = [],
): OpsHonoApp {
  const app = new OpenAPIHono<OpsEnv>({ defaultHook: validationHook });
  const { httpAdmission } = components;
  if (httpAdmission !== undefined) {
    // Probes (/health, /ready), scrapes (/metrics) and the static page stay unthrottled:
    // monitors must see a node under attack.
    const admin = components.admin;
    app.use("/v1/*", async (c, next) => {
      const ip = clientIp(c);
      // The operator is never locked out by a ban, even one covering loopback.
      const operator = isLoopback(ip) ||
        (admin !== undefined && await hasAdminToken(c, admin.auth().token));
      const verdict = httpAdmission(ip, { operator });
      if (!verdict.ok && (verdict.reason === "banned" || verdict.reason === "denied")) {
        const banned = verdict.reason === "banned";
        return c.json(
          errorBody(
            banned ? "BANNED" : "DENIED",
            `Requests from ${ip} are refused: the address is ${
              banned ? "banned" : "on the deny list (access.deny_cidrs)"
            }`,
          ),
          403,
        );
      }
      if (!verdict.ok) {
        const retryAfterS = Math.max(1, Math.ceil((verdict.retryAfterMs ?? 1_000) / 1_000));
        c.header("Retry-After", String(retryAfterS));
        return c.json(errorBody("RATE_LIMITED", "Too many requests from this address"), 429);
      }
      return await next();
    });
  }

  const groups: OpsRouteGroup[] = [
    healthRoutes(components),
    statusRoutes(() => components.status()),
  ];
  if (components.admin !== undefined) groups.push(adminRoutes(components.admin));
  if (components.policy !== undefined) groups.push(policyRoutes(components.policy));
  if (components.federation !== undefined) groups.push(federationRoutes(components.federation));
  groups.push(...extraGroups, statusPageRoutes(), openApiRoutes(VERSION));
  for (const register of groups) register(app);
  const undocumented = undocumentedRoutes(app);
  if (undocumented.length > 0) {
    throw new TypeError(
      `Cannot build the ops app as ${undocumented.join(", ")} bypass the route schemas: ` +
        "register routes with app.openapi(createRoute(…), handler) so /openapi.json covers them",
    );
  }

  const allowed = allowedMethods(app);
  app.notFound((c) => {
    const methods = allowed(c.req.path);
    if (methods.length === 0) {
      return c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`), 404);
    }
    c.header("Allow", methods.join(", "));
    return c.json(
      errorBody(
        "METHOD_NOT_ALLOWED",
        `${c.req.path} does not answer ${c.req.method}; it answers ${methods.join(", ")}`,
      ),
      405,
    );
  });

  // The one place errors become HTTP responses.
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      const code = HTTP_ERROR_CODES[error.status] ?? "HTTP_ERROR";
      const message = error.status === 415
        ? "Send the request body as JSON with 'Content-Type: application/json'"
        : error.message;
      return c.json(errorBody(code, message), error.status as ContentfulStatusCode);
    }
    if (error instanceof HopdError) {
      return c.json(
        errorBody(error.code, error.message),
        error instanceof UnavailableError ? 503 : 400,
      );
    }
    return c.json(errorBody("INTERNAL", "Internal error"), 500);
  });

  return app;
}
