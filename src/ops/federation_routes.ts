/**
 * The federation over HTTP: `GET /v1/select` (public, rate limited like every /v1 route,
 * with CORS headers so browser apps can call it from any origin) ranks the federation's
 * relays for one client; `GET /v1/federation` shows this member's view of the federation.
 * With `[federation] enabled = false` the view says `enabled: false` and select answers 503
 * `FEDERATION_DISABLED`.
 *
 * @module
 */

import { createRoute, z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { ALGORITHMS, MEMBER_STATES, type Selection, VERDICTS } from "../balancer/mod.ts";
import type { FederationView, SelectRequest } from "../federation/mod.ts";
import { parseSelectHints } from "../federation/mod.ts";
import { clientIp, errorBody, type OpsRouteGroup } from "./_env.ts";
import { BAD_REQUEST_RESPONSE, errorResponse, jsonResponse, V1_RESPONSES } from "./_schemas.ts";

/** What the federation routes read. */
export interface FederationRoutesComponents {
  /** The view (with `enabled: false` when federation is off). */
  view(): FederationView;
  /** Ranks relays; absent when federation is off. */
  readonly select?: (request: SelectRequest) => Promise<Selection>;
}

const Verdict = z.enum(VERDICTS);

const Member = z.object({
  peerId: z.string(),
  state: z.enum(MEMBER_STATES).openapi({
    description: "alive: reporting; suspect: silent past suspect_after or disconnected " +
      "(left out of selections); dead: silent past dead_after or left",
  }),
  self: z.boolean(),
  lastReportAgeMs: z.number().int().openapi({ description: "Age of its latest report" }),
  addrs: z.array(z.string()).openapi({ description: "Multiaddrs with /p2p/<peer id>" }),
  region: z.string().optional(),
  lat: z.number().optional(),
  lon: z.number().optional(),
  draining: z.boolean(),
  verdict: Verdict,
  weight: z.number(),
  connected: z.boolean().openapi({ description: "Whether this node holds a connection to it" }),
  capacity: z.object({
    maxReservations: z.number().int().openapi({ description: "0 = unlimited" }),
    maxCircuits: z.number().int().openapi({ description: "0 = unlimited" }),
    bandwidthBytesPerSecond: z.number().optional(),
  }),
  load: z.object({
    reservations: z.number().int(),
    circuits: z.number().int(),
    bytesPerSecondIn: z.number(),
    bytesPerSecondOut: z.number(),
    cpu: z.number().openapi({ description: "Fraction of one core" }),
    memoryBytes: z.number(),
  }),
  rttMs: z.number().optional().openapi({ description: "This node's ping RTT to it" }),
}).openapi("FederationMember");

const FederationViewSchema = z.object({
  enabled: z.boolean(),
  self: z.string(),
  topic: z.string(),
  members: z.array(Member),
}).openapi("Federation");

const SelectionSchema = z.object({
  algorithm: z.enum(ALGORITHMS).openapi({
    description: "The algorithm that ranked (affinity without peer: capacity)",
  }),
  relays: z.array(z.object({
    peerId: z.string(),
    addrs: z.array(z.string()).openapi({ description: "Dial one of these, then reserve" }),
    score: z.number().openapi({ description: "Higher is better; comparable within one answer" }),
    region: z.string().optional(),
  })).openapi({ description: "Best first" }),
}).openapi("Selection");

const text = (description: string, example?: string) =>
  z.string().optional().openapi({ description, ...(example ? { example } : {}) });

const selectRoute = createRoute({
  method: "get",
  path: "/v1/select",
  tags: ["federation"],
  summary: "Rank the federation's relays for one client",
  description: "Health filters first (dead, suspect, unhealthy, draining, full and weight-0 " +
    "relays are left out; degraded ones count half), then the algorithm ranks, then the " +
    "plugins' score hook adjusts. CORS: any origin may call it.",
  request: {
    query: z.object({
      peer: text("The client's peer ID (the key of the affinity algorithm)", "12D3KooW…"),
      region: text("The client's region"),
      lat: text("The client's latitude in degrees (with lon)", "48.85"),
      lon: text("The client's longitude in degrees (with lat)", "2.35"),
      n: text("How many relays (1-32, default 3)", "3"),
      algorithm: text(
        "capacity, least_connections, weighted_round_robin, geo or affinity " +
          "(default federation.algorithm)",
      ),
    }),
  },
  responses: {
    200: jsonResponse(SelectionSchema, "The best relays, best first (possibly none)"),
    400: BAD_REQUEST_RESPONSE,
    ...V1_RESPONSES,
    503: errorResponse("Federation is not enabled on this node (`FEDERATION_DISABLED`)"),
  },
});

const viewRoute = createRoute({
  method: "get",
  path: "/v1/federation",
  tags: ["federation"],
  summary: "This member's view of the federation",
  responses: {
    200: jsonResponse(FederationViewSchema, "Every member, this node first"),
    ...V1_RESPONSES,
  },
});

/**
 * The federation route group.
 *
 * @param components The view and the selection.
 * @returns The route group.
 */
export function federationRoutes(components: FederationRoutesComponents): OpsRouteGroup {
  return (app) => {
    app.use("/v1/select", cors({ origin: "*", allowMethods: ["GET"], maxAge: 600 }));
    app.openapi(selectRoute, async (c) => {
      const select = components.select;
      if (select === undefined) {
        return c.json(
          errorBody("FEDERATION_DISABLED", "Federation is not enabled on this node"),
          503,
        );
      }
      const hints = parseSelectHints(c.req.valid("query"));
      const ip = clientIp(c);
      const selection = await select(ip === "" ? hints : { ...hints, ip });
      return c.json(selection as z.infer<typeof SelectionSchema>, 200);
    });
    app.openapi(
      viewRoute,
      (c) => c.json(components.view() as z.infer<typeof FederationViewSchema>, 200),
    );
  };
}
