/**
 * Shared schemas and helpers of the ops route groups: the JSON error body, response
 * helpers, paging, and the validation hook that turns a failed zod parse into a
 * BadRequestError, so `onError` answers it with the same JSON shape as every other 400.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { BadRequestError } from "../errors.ts";
import type { OpsEnv } from "./_env.ts";

/** Default and largest page size of listings. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;

/** The name of the admin bearer-token security scheme in /openapi.json. */
export const ADMIN_SECURITY_SCHEME = "adminToken";

/** `{"error":{"code","message"}}`: the body of every error answer. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({
      description: "Stable machine-readable code",
      example: "BAD_REQUEST",
    }),
    message: z.string().openapi({ description: "What went wrong, naming the field or value" }),
  }),
}).openapi("Error");

/**
 * A JSON response entry of a route's `responses`.
 *
 * @param schema The body's schema.
 * @param description What the answer means.
 * @returns The entry.
 */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/**
 * An error response entry (the {@linkcode ErrorSchema} body).
 *
 * @param description When this error is answered.
 * @returns The entry.
 */
export function errorResponse(description: string) {
  return jsonResponse(ErrorSchema, description);
}

/** The 429 every /v1/* route may answer (with `Retry-After`) when the HTTP limiter refuses. */
export const RATE_LIMITED_RESPONSE = {
  description: "Too many requests from this address (`RATE_LIMITED`); see `Retry-After`",
  headers: z.object({
    "Retry-After": z.string().openapi({ description: "Seconds to wait", example: "3" }),
  }),
  content: { "application/json": { schema: ErrorSchema } },
};

/** What the HTTP limiter may answer on every public /v1/* route instead of the route. */
export const V1_RESPONSES = {
  403: errorResponse(
    "The caller's address is banned (`BANNED`) or on the deny list (`DENIED`); never for " +
      "loopback callers or callers with the admin token",
  ),
  429: RATE_LIMITED_RESPONSE,
};

/** What every /v1/admin/* route may answer instead of the route: its guard and the limiter. */
export const ADMIN_GUARD_RESPONSES = {
  401: errorResponse("Token configured, and missing or wrong (`UNAUTHORIZED`)"),
  403: errorResponse(
    "Caller not on loopback and remote access off (`FORBIDDEN`), or its address banned " +
      "(`BANNED`) or denied (`DENIED`) and it has no admin token",
  ),
  429: RATE_LIMITED_RESPONSE,
};

/** Bad input (`BAD_REQUEST`, naming the field and the value). */
export const BAD_REQUEST_RESPONSE = errorResponse(
  "Bad input (`BAD_REQUEST`), naming the field and the value",
);

/** A query parameter holding an integer: its doc, its bounds and its value when absent. */
interface IntegerParam {
  readonly description: string;
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
}

function integer({ description, min, max, fallback }: IntegerParam) {
  const message = max === Number.MAX_SAFE_INTEGER
    ? `must be an integer of at least ${min}`
    : `must be an integer from ${min} to ${max}`;
  return z.coerce.number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message })
    .default(fallback)
    .openapi({ description });
}

/** `?limit=&offset=` of paged listings. */
export const PageQuerySchema = z.object({
  limit: integer({
    description: "Page size",
    min: 1,
    max: MAX_PAGE_LIMIT,
    fallback: DEFAULT_PAGE_LIMIT,
  }),
  offset: integer({
    description: "Index of the first item",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    fallback: 0,
  }),
});

/**
 * A page of `item`s: `{total, offset, limit, nextOffset?, items}`.
 *
 * @param item Schema of one item.
 * @param name Component name in /openapi.json.
 * @returns The page schema.
 */
export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({
    total: z.number().int().openapi({ description: "Items in the whole listing" }),
    offset: z.number().int(),
    limit: z.number().int(),
    nextOffset: z.number().int().optional().openapi({
      description: "Offset of the next page; absent on the last page",
    }),
    items: z.array(item),
  }).openapi(name);
}

/**
 * Slices one page out of a listing.
 *
 * @param items The whole listing.
 * @param query Validated `limit` and `offset`.
 * @returns The page body.
 */
export function page<T>(
  items: readonly T[],
  query: { limit: number; offset: number },
): { total: number; offset: number; limit: number; nextOffset?: number; items: T[] } {
  const { limit, offset } = query;
  return {
    total: items.length,
    offset,
    limit,
    ...(offset + limit < items.length ? { nextOffset: offset + limit } : {}),
    items: items.slice(offset, offset + limit),
  };
}

/** What a zod-openapi validation hook receives. */
interface ValidationResult {
  readonly success: boolean;
  readonly target: string;
  readonly error?: z.ZodError;
}

async function rawInput(target: string, c: Context<OpsEnv>): Promise<unknown> {
  switch (target) {
    case "query":
      return c.req.query();
    case "param":
      return c.req.param();
    case "json":
      // Cached by hono: the validator has read it already.
      return await c.req.json().catch(() => undefined);
    default:
      return undefined;
  }
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * The default validation hook of the ops app: a failed parse throws a
 * {@linkcode BadRequestError} naming the field and the value it got, which `onError` answers
 * as 400 `BAD_REQUEST`, like any other bad input.
 *
 * @param result The validator's result.
 * @param c The request context.
 * @throws {BadRequestError} When the input does not fit the schema.
 */
export async function validationHook(result: ValidationResult, c: Context<OpsEnv>): Promise<void> {
  if (result.success || result.error === undefined) return;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new BadRequestError("Invalid request");
  if (issue.path.length === 0) throw new BadRequestError(issue.message, { cause: result.error });
  const value = valueAt(await rawInput(result.target, c), issue.path);
  const shown = value === undefined
    ? "nothing"
    : typeof value === "string" && result.target !== "json"
    ? value
    : JSON.stringify(value);
  throw new BadRequestError(`'${issue.path.join(".")}' ${issue.message}: got ${shown}`, {
    cause: result.error,
  });
}
