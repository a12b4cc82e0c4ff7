/**
 * `GET /v1/status`: the node at a glance as JSON (peer ID, version, addresses, uptime,
 * connections, relay and limiter counters, readiness), read from the daemon on every
 * request. Public like the probes; the status page (`GET /`) polls it.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { VERDICTS } from "../balancer/mod.ts";
import type { OpsRouteGroup } from "./_env.ts";
import { errorResponse, jsonResponse, V1_RESPONSES } from "./_schemas.ts";

const VerdictSchema = z.enum(VERDICTS);

/**
 * The status body. Objects are open (`additionalProperties` allowed): components add fields
 * (`health`, `federation`) as they come, and clients ignore what they do not know.
 */
export const StatusSchema = z.looseObject({
  peerId: z.string().openapi({ example: "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA" }),
  version: z.string(),
  listen: z.array(z.string()).openapi({ description: "Listen multiaddrs with /p2p/<peer id>" }),
  announce: z.array(z.string()).openapi({ description: "Configured announce multiaddrs" }),
  uptimeSeconds: z.number(),
  connections: z.looseObject({
    total: z.number().int(),
    inbound: z.number().int(),
    outbound: z.number().int(),
    byTransport: z.record(z.string(), z.number().int()).openapi({
      example: { tcp: 3, ws: 1 },
    }),
  }),
  relay: z.looseObject({
    reservations: z.number().int().openapi({ description: "Reservations held" }),
    circuits: z.number().int().openapi({ description: "Circuits relaying" }),
    reservationsAccepted: z.number().int().openapi({ description: "Created or renewed, total" }),
    circuitsOpened: z.number().int().openapi({ description: "Established, total" }),
    refusals: z.number().int().openapi({ description: "Reservations and circuits refused" }),
    streamErrors: z.number().int(),
    bytesRelayed: z.number().openapi({ description: "Bytes relayed, both directions, total" }),
    draining: z.boolean(),
  }),
  limiter: z.looseObject({
    throttleFactor: z.number().openapi({
      description: "1 = configured rates; below 1 = throttled",
    }),
    bans: z.number().int().openapi({ description: "Active bans" }),
  }),
  ready: z.boolean(),
  reasons: z.array(z.string()).openapi({ description: "Why the node is not ready" }),
  draining: z.boolean(),
  health: z.looseObject({ verdict: VerdictSchema, reasons: z.array(z.string()) }).optional()
    .openapi({ description: "The policy engine's verdict, when it runs" }),
  federation: z.looseObject({
    members: z.object({
      alive: z.number().int(),
      suspect: z.number().int(),
      dead: z.number().int(),
    }),
  }).optional().openapi({ description: "Federation member counts, when federation is on" }),
}).openapi("Status");

/** The status body as the daemon builds it. */
export type Status = z.infer<typeof StatusSchema>;

const statusRoute = createRoute({
  method: "get",
  path: "/v1/status",
  tags: ["status"],
  summary: "Node status",
  responses: {
    200: jsonResponse(StatusSchema, "The node's status"),
    ...V1_RESPONSES,
    500: errorResponse("The status could not be read (`INTERNAL`)"),
  },
});

/**
 * The status route.
 *
 * @param status Builds the status object (called on every request).
 * @returns The route group.
 */
export function statusRoutes(status: () => Record<string, unknown>): OpsRouteGroup {
  // The daemon assembles the object from live components; the schema documents it.
  return (app) => app.openapi(statusRoute, (c) => c.json(status() as Status, 200));
}
