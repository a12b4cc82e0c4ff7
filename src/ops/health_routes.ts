/**
 * Probe and scrape routes: `GET /health` (liveness), `GET /ready` (readiness, 503 with the
 * reasons when the node should not get traffic) and `GET /metrics` (Prometheus text). They
 * sit outside /v1, so the HTTP rate limiter never throttles them: monitors must see a node
 * under attack.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import { createRoute, z } from "@hono/zod-openapi";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { OpsRouteGroup } from "./_env.ts";
import { jsonResponse } from "./_schemas.ts";

/** Whether the node should receive traffic, and if not, why. */
export interface Readiness {
  /** True when the node should receive traffic (/ready answers 200). */
  readonly ready: boolean;
  /** Why not, when it should not. */
  readonly reasons: readonly string[];
}

/** What the health routes read. */
export interface HealthRoutesComponents {
  readonly registry: MetricsRegistry;
  readiness(): Readiness;
  /** For the uptime. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

const HealthSchema = z.object({
  status: z.literal("ok"),
  uptimeSeconds: z.number().openapi({ description: "Seconds since the ops app was built" }),
}).openapi("Liveness");

const ReadinessSchema = z.object({
  ready: z.boolean(),
  reasons: z.array(z.string()).openapi({
    description: "Why the node is not ready; empty when it is",
    example: ["node is draining"],
  }),
}).openapi("Readiness");

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["probes"],
  summary: "Liveness",
  description: "200 while the process and its event loop are alive, whatever readiness says.",
  responses: { 200: jsonResponse(HealthSchema, "Alive") },
});

const readyRoute = createRoute({
  method: "get",
  path: "/ready",
  tags: ["probes"],
  summary: "Readiness",
  description: "200 when listeners are up and the node is not draining or stopping; else 503.",
  responses: {
    200: jsonResponse(ReadinessSchema, "Ready for traffic"),
    503: jsonResponse(ReadinessSchema, "Not ready, with the reasons"),
  },
});

const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["probes"],
  summary: "Prometheus metrics",
  description: "Process metrics and every `hopd_*` metric in the Prometheus text format.",
  responses: {
    200: {
      description: "Prometheus text exposition format",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});

/**
 * The probe routes.
 *
 * @param components The registry and the readiness check (read on every request).
 * @returns The route group.
 */
export function healthRoutes(components: HealthRoutesComponents): OpsRouteGroup {
  return (app) => {
    const clock = components.clock ?? SYSTEM_CLOCK;
    const startedAtMs = clock.nowMs();
    app.openapi(
      healthRoute,
      (c) =>
        c.json({ status: "ok" as const, uptimeSeconds: (clock.nowMs() - startedAtMs) / 1000 }, 200),
    );
    app.openapi(readyRoute, (c) => {
      const { ready, reasons } = components.readiness();
      const body = { ready, reasons: [...reasons] };
      return ready ? c.json(body, 200) : c.json(body, 503);
    });
    app.openapi(metricsRoute, async (c) => {
      const text = await components.registry.metrics();
      return c.text(text, 200, { "content-type": components.registry.contentType });
    });
  };
}
