/**
 * The policy engine over HTTP: `GET /v1/policies` (every policy and plugin with its
 * revision, mode, last verdict, last error and timings, plus the node's verdict),
 * `GET /v1/decisions` (the newest decision-log records) and
 * `POST /v1/admin/policies/restart-budget/reset` (an operator lets policy restarts happen
 * again after the budget ran out). The reads are public like /v1/status; the reset is an
 * admin route (token, audit).
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { VERDICTS } from "../balancer/mod.ts";
import { POLICY_MODES } from "../config/mod.ts";
import type { OpsRouteGroup } from "./_env.ts";
import {
  ADMIN_GUARD_RESPONSES,
  ADMIN_SECURITY_SCHEME,
  BAD_REQUEST_RESPONSE,
  jsonResponse,
  V1_RESPONSES,
} from "./_schemas.ts";

/** What the policy routes read and drive (the policy engine). */
export interface PolicyRoutesComponents {
  /** The node's verdict and each policy's state, for GET /v1/policies. */
  policies(): { verdict: unknown; policies: readonly unknown[] };
  /** Newest first, within the engine's byte bound (`truncated` when it cut the page). */
  decisions(
    limit: number,
    policy?: string,
    notable?: boolean,
  ): { decisions: readonly unknown[]; truncated: boolean };
  /** The policy worker's restarts used of its budget, as the reset answers it. */
  restartBudget(): { exhausted: boolean; used: number; budget: number };
  /** POST /v1/admin/policies/restart-budget/reset: the budget full again. */
  resetRestartBudget(): void;
}

const Verdict = z.enum(VERDICTS);
const Health = z.object({ verdict: Verdict, reasons: z.array(z.string()) }).openapi("Health");

const PolicyView = z.looseObject({
  name: z.string(),
  kind: z.enum(["policy", "plugin"]),
  file: z.string(),
  revision: z.string().openapi({ description: "sha256 of the active source ('' if none loaded)" }),
  mode: z.enum(POLICY_MODES),
  state: z.enum(["active", "failed", "retired"]),
  lastVerdict: Verdict.optional(),
  lastReasons: z.array(z.string()).optional(),
  lastError: z.string().optional().openapi({
    description: "The last load or evaluation error; with state active, the previous good " +
      "revision is still running",
  }),
  lastErrorKind: z.string().optional().openapi({
    example: "compile",
    description: "compile, runtime, timeout, memory, killed, invalid_result or fixture",
  }),
  lastEvaluatedAt: z.string().optional(),
  lastDurationMs: z.number().optional(),
  evaluations: z.number().int(),
  errors: z.number().int(),
  fixtures: z.object({ passed: z.number().int(), failed: z.number().int() }),
}).openapi("Policy");

const Decision = z.looseObject({
  type: z.literal("decision"),
  id: z.string(),
  time: z.string(),
  tick: z.number().int(),
  policy: z.string(),
  revision: z.string(),
  mode: z.enum(["enforce", "warn", "dryrun"]),
  seed: z.number().int(),
  verdict: Verdict.optional(),
  effectiveVerdict: Verdict.optional(),
  verdictChange: z.object({ from: Verdict, to: Verdict }).optional().openapi({
    description: "Set when the effective verdict differs from the policy's previous one",
  }),
  reasons: z.array(z.string()),
  actions: z.array(z.looseObject({
    type: z.string(),
    outcome: z.enum(["executed", "dryrun", "warned", "suppressed"]),
    suppressedBy: z.string().optional(),
    error: z.string().optional(),
  })),
  durationMs: z.number(),
  error: z.string().optional(),
  errorKind: z.string().optional(),
  logs: z.array(z.string()).optional(),
}).openapi("Decision");

const RestartBudget = z.object({
  exhausted: z.boolean(),
  used: z.number().int(),
  budget: z.number().int(),
}).openapi("RestartBudget");

const policiesRoute = createRoute({
  method: "get",
  path: "/v1/policies",
  tags: ["policies"],
  summary: "Policies and plugins, with the node's verdict",
  responses: {
    200: jsonResponse(
      z.object({ verdict: Health, policies: z.array(PolicyView) }),
      "Every policy and plugin seen in the watched directories",
    ),
    ...V1_RESPONSES,
  },
});

const decisionsRoute = createRoute({
  method: "get",
  path: "/v1/decisions",
  tags: ["policies"],
  summary: "The newest policy decisions",
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(500).default(50).openapi({
        description: "How many (newest first)",
      }),
      policy: z.string().max(128).optional().openapi({ description: "Only this policy" }),
      notable: z.enum(["true", "false"]).optional().openapi({
        description: "true: only decisions where an action ran (or would have, in warn or " +
          "dryrun mode) or the policy's verdict changed; kept apart, so quiet ticks do not " +
          "push them out",
      }),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({
        decisions: z.array(Decision),
        truncated: z.boolean().openapi({
          description: "True when fewer than `limit` came back because the answer reached its " +
            "size bound (4 MiB of JSON): ask again with a smaller limit or one policy",
        }),
      }),
      "Newest first",
    ),
    400: BAD_REQUEST_RESPONSE,
    ...V1_RESPONSES,
  },
});

const resetRoute = createRoute({
  method: "post",
  path: "/v1/admin/policies/restart-budget/reset",
  tags: ["admin"],
  summary: "Reset the policy restart budget",
  security: [{ [ADMIN_SECURITY_SCHEME]: [] }],
  responses: {
    200: jsonResponse(RestartBudget, "The budget after the reset"),
    ...ADMIN_GUARD_RESPONSES,
  },
});

/**
 * The policy route group.
 *
 * @param engine The policy engine.
 * @returns The route group.
 */
export function policyRoutes(engine: PolicyRoutesComponents): OpsRouteGroup {
  return (app) => {
    app.openapi(policiesRoute, (c) => c.json(engine.policies() as never, 200));
    app.openapi(decisionsRoute, (c) => {
      const { limit, policy, notable } = c.req.valid("query");
      return c.json(engine.decisions(limit, policy, notable === "true") as never, 200);
    });
    app.openapi(resetRoute, (c) => {
      engine.resetRestartBudget();
      return c.json(engine.restartBudget(), 200);
    });
  };
}
