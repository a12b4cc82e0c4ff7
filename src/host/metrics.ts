/**
 * The libp2p host's Prometheus metrics: open and opened connections by transport and
 * direction, and the expiry of the TLS certificate served on WebSockets over TLS.
 *
 * @module
 */

import type { MetricsRegistry } from "../metrics/mod.ts";
import type { Libp2p } from "@libp2p/interface";
import type { LoadedCertificate } from "./tls_certificate.ts";
import { transportOf } from "./mod.ts";

/**
 * Registers the host's connection metrics: `hopd_connections` (open now, read at scrape
 * time so it can never drift) and `hopd_connections_opened_total`, both by transport and
 * direction.
 *
 * `hopd_tls_certificate_expiry_timestamp_seconds{source}` is the notAfter of the certificate
 * served on WebSockets over TLS (`source` "files" or "acme"); no sample while there is none.
 *
 * @param libp2p The node to observe.
 * @param registry Where to register.
 * @param certificate Reads the TLS certificate in use; absent when the node serves no TLS
 * (then the expiry gauge is not registered at all).
 */
export function registerHostMetrics(
  libp2p: Libp2p,
  registry: MetricsRegistry,
  certificate?: () => LoadedCertificate | undefined,
): void {
  if (certificate !== undefined) registerExpiry(registry, certificate);
  const labelNames = ["transport", "direction"] as const;
  registry.gauge({
    name: "hopd_connections",
    help: "Open libp2p connections by transport and direction.",
    labelNames,
    collect() {
      this.reset();
      for (const connection of libp2p.getConnections()) {
        this.inc({ transport: transportOf(connection), direction: connection.direction });
      }
    },
  });
  const opened = registry.counter({
    name: "hopd_connections_opened_total",
    help: "libp2p connections opened, by transport and direction.",
    labelNames,
  });
  libp2p.addEventListener("connection:open", (event) => {
    opened.inc({ transport: transportOf(event.detail), direction: event.detail.direction });
  });
}

function registerExpiry(
  registry: MetricsRegistry,
  certificate: () => LoadedCertificate | undefined,
) {
  registry.gauge({
    name: "hopd_tls_certificate_expiry_timestamp_seconds",
    help:
      "notAfter of the TLS certificate served on WebSockets over TLS, as a unix time, by source (files or acme).",
    labelNames: ["source"] as const,
    collect() {
      this.reset();
      const current = certificate();
      if (current !== undefined) this.set({ source: current.source }, current.notAfterMs / 1000);
    },
  });
}
