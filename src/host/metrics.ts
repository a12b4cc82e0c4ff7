import type { Libp2p } from "@libp2p/interface";
import { Counter, Gauge, type Registry } from "prom-client";
import { transportOf } from "./mod.ts";

/**
 * Registers the host's connection metrics: `hopd_connections` (open now, read at scrape
 * time so it can never drift) and `hopd_connections_opened_total`, both by transport and
 * direction.
 *
 * @param libp2p The node to observe.
 * @param registry Where to register.
 */
export function registerHostMetrics(libp2p: Libp2p, registry: Registry): void {
  const labelNames = ["transport", "direction"] as const;
  new Gauge({
    name: "hopd_connections",
    help: "Open libp2p connections by transport and direction.",
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const connection of libp2p.getConnections()) {
        this.inc({ transport: transportOf(connection), direction: connection.direction });
      }
    },
  });
  const opened = new Counter({
    name: "hopd_connections_opened_total",
    help: "libp2p connections opened, by transport and direction.",
    labelNames,
    registers: [registry],
  });
  libp2p.addEventListener("connection:open", (event) => {
    opened.inc({ transport: transportOf(event.detail), direction: event.detail.direction });
  });
}
