/**
 * The admin API under `/v1/admin`: bans, listings of reservations, circuits and peers
 * (paged), drain and resume, and closing a peer's connections. Every request is
 * authenticated ({@linkcode adminAuth}), bodies are size-limited, and every action leaves
 * one audit log line. Route groups added after this one get the same guard on any route
 * under `/v1/admin/`.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { getLogger } from "@logtape/logtape";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timingSafeEqual } from "hono/utils/buffer";
import { BadRequestError } from "../errors.ts";
import { clientIp, errorBody, isLoopback, type OpsEnv, type OpsRouteGroup } from "./_env.ts";
import {
  ADMIN_GUARD_RESPONSES,
  ADMIN_SECURITY_SCHEME,
  BAD_REQUEST_RESPONSE,
  errorResponse,
  jsonResponse,
  page,
  PageQuerySchema,
  pageSchema,
} from "./_schemas.ts";

export { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from "./_schemas.ts";

const audit = getLogger(["hopd", "audit"]);

/** How the admin API is protected. */
export interface AdminAuthConfig {
  /** Bearer token; undefined = no token: only loopback callers, without a token. */
  readonly token?: string;
  /** Accept callers that are not on loopback (only with a token). @default false */
  readonly allowRemote: boolean;
  /** Largest request body in bytes. */
  readonly maxBodyBytes: number;
}

/** A ban as the admin API shows it. */
export interface BanView {
  /** A peer ban or a CIDR ban. */
  readonly kind: "peer" | "cidr";
  /** The banned peer ID or canonical CIDR. */
  readonly target: string;
  /** Why, as given at the ban. */
  readonly reason?: string;
  /** When the ban was made, ISO 8601. */
  readonly createdAt: string;
  /** When it expires, ISO 8601; absent = until unbanned. */
  readonly expiresAt?: string;
}

/** What `POST /v1/admin/bans` asks for: exactly one of peer or cidr. */
export interface BanRequest {
  /** The peer ID to ban. */
  readonly peer?: string;
  /** The IP or CIDR to ban. */
  readonly cidr?: string;
  /** Lifetime in ms; absent = until unbanned. */
  readonly ttlMs?: number;
  /** Why (shown in listings and logs). */
  readonly reason?: string;
  /** Ban a CIDR wider than `limits.ban_prefix_min_v4`/`_v6` all the same. */
  readonly force?: boolean;
}

/** The control surface the admin API drives; the daemon implements it. */
export interface AdminControl {
  /** Every ban in force. */
  bans(): readonly BanView[];
  /**
   * Resolves once the ban is in force and on disk.
   *
   * @throws {RangeError} On a bad peer ID, CIDR or TTL.
   * @throws {import("../errors.ts").UnavailableError} When it could not be saved (it is in force).
   */
  ban(request: BanRequest): Promise<BanView>;
  /**
   * Resolves once the ban is lifted and that is on disk.
   *
   * @returns False when there was no such ban.
   * @throws {RangeError} On a bad CIDR.
   * @throws {import("../errors.ts").UnavailableError} When it could not be saved (it is lifted).
   */
  unban(target: string): Promise<boolean>;
  /** Held reservations (`GET /v1/admin/reservations`). */
  reservations(): readonly Record<string, unknown>[];
  /** Open circuits (`GET /v1/admin/circuits`). */
  circuits(): readonly Record<string, unknown>[];
  /** Connected peers (`GET /v1/admin/peers`). */
  peers(): readonly Record<string, unknown>[];
  /** Starts a drain: no new connections or reservations; /ready turns 503. */
  drain(): void;
  /** Ends a drain. */
  resume(): void;
  /**
   * Closes every connection of a peer.
   *
   * @returns How many connections were closed.
   * @throws {RangeError} On a bad peer ID.
   */
  disconnect(peer: string): Promise<number>;
}

/** What the admin routes need. */
export interface AdminRoutesComponents {
  readonly control: AdminControl;
  /** Read per request, so a reload can change the token. */
  readonly auth: () => AdminAuthConfig;
  /** Parses `ttl` strings ("1h"). */
  readonly parseDurationMs: (text: string) => number | undefined;
}

/** The bearer token the request carries, if any. */
function bearerOf(c: Context<OpsEnv>): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
  return match === null ? undefined : match[1]!.trim();
}

/**
 * Whether the request carries the admin token (compared in constant time).
 *
 * @param c The request.
 * @param token The configured token; undefined = none configured, so no request has it.
 */
export async function hasAdminToken(
  c: Context<OpsEnv>,
  token: string | undefined,
): Promise<boolean> {
  const bearer = bearerOf(c);
  return token !== undefined && bearer !== undefined && await timingSafeEqual(bearer, token);
}

/**
 * Authenticates admin requests: callers off loopback are refused (403) unless remote
 * access is on and a token is configured; with a token, a missing or wrong
 * `Authorization: Bearer` is 401. Tokens are compared in constant time.
 *
 * @param auth Reads the auth settings (per request: a reload may change the token).
 * @returns The middleware.
 */
export function adminAuth(auth: () => AdminAuthConfig) {
  return async (c: Context<OpsEnv>, next: () => Promise<void>) => {
    const config = auth();
    const ip = clientIp(c);
    if (!isLoopback(ip) && (!config.allowRemote || config.token === undefined)) {
      audit.warn("admin {method} {path} refused: {ip} is not on loopback", {
        method: c.req.method,
        path: c.req.path,
        ip,
      });
      return c.json(
        errorBody(
          "FORBIDDEN",
          config.token === undefined
            ? "The admin API answers only loopback callers when no token is configured"
            : "The admin API answers only loopback callers (admin.allow_remote is false)",
        ),
        403,
      );
    }
    if (config.token !== undefined && !(await hasAdminToken(c, config.token))) {
      const missing = bearerOf(c) === undefined;
      audit.warn("admin {method} {path} refused: {problem} token from {ip}", {
        method: c.req.method,
        path: c.req.path,
        problem: missing ? "missing" : "wrong",
        ip,
      });
      c.header("WWW-Authenticate", 'Bearer realm="hopd admin"');
      return c.json(
        errorBody("UNAUTHORIZED", missing ? "Missing bearer token" : "Invalid bearer token"),
        401,
      );
    }
    return await next();
  };
}

// ---- schemas ----

const nonEmpty = (what: string) =>
  z.string({ error: "must be a non-empty string" }).min(1, { error: "must be a non-empty string" })
    .openapi({ description: what });

const BanSchema = z.object({
  kind: z.enum(["peer", "cidr"]),
  target: z.string().openapi({ description: "Peer ID or CIDR", example: "203.0.113.0/24" }),
  reason: z.string().optional(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().optional().openapi({ description: "Absent: until unbanned" }),
}).openapi("Ban");

const BanRequestSchema = z.object({
  peer: nonEmpty("Peer ID to ban (give this or `cidr`)").optional(),
  cidr: nonEmpty("IPv4 or IPv6 CIDR to ban (give this or `peer`)").optional(),
  ttl: z.string({ error: 'must be a positive duration such as "1h"' }).optional().openapi({
    description: 'Lifetime such as "30m", "1h", "7d"; absent = until unbanned',
  }),
  reason: nonEmpty("Why, for the audit log and the listing").optional(),
  force: z.boolean({ error: "must be true or false" }).optional().openapi({
    description: "Ban a CIDR wider than `limits.ban_prefix_min_v4`/`_v6` (a /16 and a /32 by " +
      "default) all the same; without it such a ban is a 400",
  }),
}, { error: "Request body must be a JSON object" })
  .refine((body) => (body.peer === undefined) !== (body.cidr === undefined), {
    error: "Give exactly one of 'peer' or 'cidr'",
  })
  .openapi("BanRequest", { example: { cidr: "203.0.113.0/24", ttl: "1h", reason: "flood" } });

const ReservationSchema = z.looseObject({
  peer: z.string(),
  ip: z.string(),
  expiresAt: z.iso.datetime(),
}).openapi("Reservation");

const CircuitSchema = z.looseObject({
  source: z.string().openapi({ description: "Peer ID of the dialer" }),
  target: z.string().openapi({ description: "Peer ID of the reserved peer" }),
  bytesSrcToDst: z.number().int(),
  bytesDstToSrc: z.number().int(),
  ageSeconds: z.number(),
}).openapi("Circuit");

const PeerSchema = z.looseObject({
  peer: z.string(),
  connections: z.number().int(),
  addrs: z.array(z.string()).openapi({ description: "Remote multiaddr of each connection" }),
}).openapi("Peer");

const DrainSchema = z.object({ draining: z.boolean() }).openapi("DrainState");

// ---- routes ----

const security = [{ [ADMIN_SECURITY_SCHEME]: [] }];
const NOT_SAVED_RESPONSE = errorResponse(
  "Done in memory but bans.json could not be written (`BANS_NOT_SAVED`): a restart would undo " +
    "it; /ready answers 503 until a save succeeds",
);

/** One paged listing route: its path, its item schema, its page's name and what it lists. */
interface Listing<T extends z.ZodType> {
  readonly path: string;
  readonly item: T;
  readonly pageName: string;
  readonly what: string;
}

function listing<T extends z.ZodType>({ path, item, pageName, what }: Listing<T>) {
  return createRoute({
    method: "get",
    path,
    tags: ["admin"],
    summary: `List ${what}`,
    security,
    request: { query: PageQuerySchema },
    responses: {
      200: jsonResponse(pageSchema(item, pageName), `A page of ${what}`),
      400: BAD_REQUEST_RESPONSE,
      ...ADMIN_GUARD_RESPONSES,
    },
  });
}

const bansList = listing({
  path: "/v1/admin/bans",
  item: BanSchema,
  pageName: "BanPage",
  what: "bans",
});
const reservationsList = listing({
  path: "/v1/admin/reservations",
  item: ReservationSchema,
  pageName: "ReservationPage",
  what: "reservations",
});
const circuitsList = listing({
  path: "/v1/admin/circuits",
  item: CircuitSchema,
  pageName: "CircuitPage",
  what: "circuits",
});
const peersList = listing({
  path: "/v1/admin/peers",
  item: PeerSchema,
  pageName: "PeerPage",
  what: "connected peers",
});

const banCreate = createRoute({
  method: "post",
  path: "/v1/admin/bans",
  tags: ["admin"],
  summary: "Ban a peer or a CIDR",
  description: "Closes the banned party's connections at once. Answers once the ban is saved " +
    "to bans.json. Audited.",
  security,
  request: {
    body: { required: true, content: { "application/json": { schema: BanRequestSchema } } },
  },
  responses: {
    201: jsonResponse(BanSchema, "The ban"),
    400: BAD_REQUEST_RESPONSE,
    413: errorResponse("Body over `admin.max_body_size` (`PAYLOAD_TOO_LARGE`)"),
    415: errorResponse("Body not sent as `application/json` (`UNSUPPORTED_MEDIA_TYPE`)"),
    503: NOT_SAVED_RESPONSE,
    ...ADMIN_GUARD_RESPONSES,
  },
});

const banDelete = createRoute({
  method: "delete",
  // `{.+}`: a CIDR's slash may come URL-encoded (%2F) or plain.
  path: "/v1/admin/bans/{target{.+}}",
  tags: ["admin"],
  summary: "Lift a ban",
  description: "Answers once the change is saved to bans.json. Audited.",
  security,
  request: {
    params: z.object({
      target: z.string().openapi({
        description: "Peer ID, or CIDR (URL-encoded: `203.0.113.0%2F24`)",
        example: "203.0.113.0%2F24",
      }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ removed: z.literal(true), target: z.string() }).openapi("Unbanned"),
      "The ban was lifted",
    ),
    400: BAD_REQUEST_RESPONSE,
    404: errorResponse("No such ban (`NOT_FOUND`)"),
    503: NOT_SAVED_RESPONSE,
    ...ADMIN_GUARD_RESPONSES,
  },
});

const disconnect = createRoute({
  method: "post",
  path: "/v1/admin/peers/{peer}/disconnect",
  tags: ["admin"],
  summary: "Close a peer's connections",
  description: "Audited. The peer may reconnect unless banned.",
  security,
  request: { params: z.object({ peer: z.string().openapi({ description: "Peer ID" }) }) },
  responses: {
    200: jsonResponse(
      z.object({ peer: z.string(), closed: z.number().int() }).openapi("Disconnected"),
      "How many connections were closed",
    ),
    400: BAD_REQUEST_RESPONSE,
    ...ADMIN_GUARD_RESPONSES,
  },
});

function drainRoute(path: string, summary: string, description: string) {
  return createRoute({
    method: "post",
    path,
    tags: ["admin"],
    summary,
    description,
    security,
    responses: { 200: jsonResponse(DrainSchema, "The drain state now"), ...ADMIN_GUARD_RESPONSES },
  });
}
const drain = drainRoute(
  "/v1/admin/drain",
  "Start draining",
  "/ready turns 503; new connections and reservations are refused; circuits go on. Audited.",
);
const resume = drainRoute("/v1/admin/resume", "Stop draining", "Audited.");

/** Runs a control call; its RangeError (a bad peer ID or CIDR from the caller) becomes a 400. */
async function asRequest<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RangeError) throw new BadRequestError(error.message, { cause: error });
    throw error;
  }
}

/**
 * The `/v1/admin` routes, behind {@linkcode adminAuth} and a body size limit.
 *
 * @param components What the routes act on, the auth settings and the TTL parser.
 * @returns The route group.
 */
export function adminRoutes(components: AdminRoutesComponents): OpsRouteGroup {
  const { control, auth, parseDurationMs } = components;
  return (app) => {
    app.openAPIRegistry.registerComponent("securitySchemes", ADMIN_SECURITY_SCHEME, {
      type: "http",
      scheme: "bearer",
      description: "The token in `admin.token_file`. Without one, only loopback callers, " +
        "without a token.",
    });
    app.use("/v1/admin/*", adminAuth(auth));
    const { maxBodyBytes } = auth();
    app.use(
      "/v1/admin/*",
      bodyLimit({
        maxSize: maxBodyBytes,
        onError: (c) =>
          c.json(
            errorBody("PAYLOAD_TOO_LARGE", `Request body exceeds ${maxBodyBytes} bytes`),
            413,
          ),
      }),
    );

    const done = (c: Context<OpsEnv>, action: string, fields: Record<string, unknown>) => {
      audit.info("admin {action} by {ip}: {fields}", { action, ip: clientIp(c), fields });
    };

    app.openapi(bansList, (c) => c.json(page(control.bans(), c.req.valid("query")), 200));
    app.openapi(banCreate, async (c) => {
      const { peer, cidr, ttl, reason, force } = c.req.valid("json");
      let ttlMs: number | undefined;
      if (ttl !== undefined) {
        ttlMs = parseDurationMs(ttl);
        if (ttlMs === undefined || ttlMs <= 0) {
          throw new BadRequestError(
            `'ttl' must be a positive duration such as "1h": got ${JSON.stringify(ttl)}`,
          );
        }
      }
      const ban = await asRequest(() => control.ban({ peer, cidr, ttlMs, reason, force }));
      done(c, "ban", { ...ban, ...(force === true ? { force } : {}) });
      return c.json(ban, 201);
    });
    app.openapi(banDelete, async (c) => {
      // hono has decoded the parameter once (%2F → /).
      const { target } = c.req.valid("param");
      const removed = await asRequest(() => control.unban(target));
      done(c, "unban", { target, removed });
      return removed
        ? c.json({ removed: true as const, target }, 200)
        : c.json(errorBody("NOT_FOUND", `No ban on '${target}'`), 404);
    });
    // The control lists plain records; the schemas document their fields.
    app.openapi(reservationsList, (c) => {
      const items = control.reservations() as z.infer<typeof ReservationSchema>[];
      return c.json(page(items, c.req.valid("query")), 200);
    });
    app.openapi(circuitsList, (c) => {
      const items = control.circuits() as z.infer<typeof CircuitSchema>[];
      return c.json(page(items, c.req.valid("query")), 200);
    });
    app.openapi(peersList, (c) => {
      const items = control.peers() as z.infer<typeof PeerSchema>[];
      return c.json(page(items, c.req.valid("query")), 200);
    });
    app.openapi(disconnect, async (c) => {
      const { peer } = c.req.valid("param");
      const closed = await asRequest(() => control.disconnect(peer));
      done(c, "disconnect", { peer, closed });
      return c.json({ peer, closed }, 200);
    });
    app.openapi(drain, (c) => {
      control.drain();
      done(c, "drain", {});
      return c.json({ draining: true }, 200);
    });
    app.openapi(resume, (c) => {
      control.resume();
      done(c, "resume", {});
      return c.json({ draining: false }, 200);
    });
  };
}
