/**
 * The admin API under `/v1/admin`: bans, listings of reservations, circuits and peers
 * (paged), drain and resume, and closing a peer's connections. Every request is
 * authenticated ({@linkcode adminAuth}) and every action leaves one audit log line.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timingSafeEqual } from "hono/utils/buffer";
import { BadRequestError } from "../errors.ts";
import type { OpsEnv } from "./_env.ts";
import { clientIp, errorBody, isLoopback } from "./_env.ts";

const audit = getLogger(["hopd", "audit"]);

/** Default and largest page size of admin listings. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;

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
  readonly kind: "peer" | "cidr";
  readonly target: string;
  readonly reason?: string;
  readonly createdAt: string;
  readonly expiresAt?: string;
}

/** What `POST /v1/admin/bans` asks for: exactly one of peer or cidr. */
export interface BanRequest {
  readonly peer?: string;
  readonly cidr?: string;
  /** Lifetime in ms; absent = until unbanned. */
  readonly ttlMs?: number;
  readonly reason?: string;
}

/** The control surface the admin API drives; the daemon implements it. */
export interface AdminControl {
  bans(): readonly BanView[];
  /** @throws {RangeError} On a bad peer ID, CIDR or TTL. */
  ban(request: BanRequest): Promise<BanView>;
  /** @returns False when there was no such ban. */
  unban(target: string): Promise<boolean>;
  reservations(): readonly Record<string, unknown>[];
  circuits(): readonly Record<string, unknown>[];
  peers(): readonly Record<string, unknown>[];
  drain(): void;
  resume(): void;
  /** @returns How many connections were closed. @throws {RangeError} On a bad peer ID. */
  disconnect(peer: string): Promise<number>;
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
    if (config.token !== undefined) {
      const header = c.req.header("authorization") ?? "";
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (match === null || !(await timingSafeEqual(match[1]!.trim(), config.token))) {
        audit.warn("admin {method} {path} refused: {problem} token from {ip}", {
          method: c.req.method,
          path: c.req.path,
          problem: match === null ? "missing" : "wrong",
          ip,
        });
        c.header("WWW-Authenticate", 'Bearer realm="hopd admin"');
        return c.json(
          errorBody(
            "UNAUTHORIZED",
            match === null ? "Missing bearer token" : "Invalid bearer token",
          ),
          401,
        );
      }
    }
    return await next();
  };
}

function page(c: Context<OpsEnv>, items: readonly Record<string, unknown>[]) {
  const limit = Number(c.req.query("limit") ?? DEFAULT_PAGE_LIMIT);
  const offset = Number(c.req.query("offset") ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new BadRequestError(
      `'limit' must be an integer from 1 to ${MAX_PAGE_LIMIT}: got ${c.req.query("limit")}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw new BadRequestError(
      `'offset' must be a non-negative integer: got ${c.req.query("offset")}`,
    );
  }
  const slice = items.slice(offset, offset + limit);
  return c.json({
    total: items.length,
    offset,
    limit,
    ...(offset + limit < items.length ? { nextOffset: offset + limit } : {}),
    items: slice,
  });
}

async function jsonBody(c: Context<OpsEnv>): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new BadRequestError("Request body must be a JSON object");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new BadRequestError("Request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new BadRequestError(`'${key}' must be a non-empty string: got ${JSON.stringify(value)}`);
  }
  return value;
}

function banRequest(
  body: Record<string, unknown>,
  parseDurationMs: (text: string) => number | undefined,
): BanRequest {
  const peer = optionalString(body, "peer");
  const cidr = optionalString(body, "cidr");
  if ((peer === undefined) === (cidr === undefined)) {
    throw new BadRequestError("Give exactly one of 'peer' or 'cidr'");
  }
  const ttl = body.ttl;
  let ttlMs: number | undefined;
  if (ttl !== undefined) {
    ttlMs = typeof ttl === "string" ? parseDurationMs(ttl) : undefined;
    if (ttlMs === undefined || ttlMs <= 0) {
      throw new BadRequestError(
        `'ttl' must be a positive duration such as "1h": got ${JSON.stringify(ttl)}`,
      );
    }
  }
  return { peer, cidr, ttlMs, reason: optionalString(body, "reason") };
}

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
 * Builds the `/v1/admin` routes.
 *
 * @param control What the routes act on.
 * @param auth Reads the auth settings and body limit.
 * @param parseDurationMs Parses `ttl` strings ("1h").
 * @returns A hono app to mount at `/v1/admin`.
 */
export function adminRoutes(
  control: AdminControl,
  auth: () => AdminAuthConfig,
  parseDurationMs: (text: string) => number | undefined,
): Hono<OpsEnv> {
  const app = new Hono<OpsEnv>();
  app.use("*", adminAuth(auth));
  const { maxBodyBytes } = auth();
  app.use(
    "*",
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

  app.get("/bans", (c) => page(c, control.bans() as unknown as Record<string, unknown>[]));
  app.post("/bans", async (c) => {
    const request = banRequest(await jsonBody(c), parseDurationMs);
    const ban = await asRequest(() => control.ban(request));
    done(c, "ban", { ...ban });
    return c.json(ban, 201);
  });
  app.delete("/bans/:target{.+}", async (c) => {
    const target = decodeURIComponent(c.req.param("target"));
    const removed = await asRequest(() => control.unban(target));
    done(c, "unban", { target, removed });
    return removed
      ? c.json({ removed: true, target })
      : c.json(errorBody("NOT_FOUND", `No ban on '${target}'`), 404);
  });
  app.get("/reservations", (c) => page(c, control.reservations()));
  app.get("/circuits", (c) => page(c, control.circuits()));
  app.get("/peers", (c) => page(c, control.peers()));
  app.post("/peers/:peer/disconnect", async (c) => {
    const peer = c.req.param("peer");
    const closed = await asRequest(() => control.disconnect(peer));
    done(c, "disconnect", { peer, closed });
    return c.json({ peer, closed });
  });
  app.post("/drain", (c) => {
    control.drain();
    done(c, "drain", {});
    return c.json({ draining: true });
  });
  app.post("/resume", (c) => {
    control.resume();
    done(c, "resume", {});
    return c.json({ draining: false });
  });
  return app;
}
