/**
 * `GET /v1/status` and `hopd status`: the node's identity, addresses, uptime, connections
 * by transport and direction, the relay's counts, the limiter's throttle and bans, readiness,
 * drain, health, with federation the members, and with TLS the certificate served on
 * /tls/ws (and the ACME state).
 *
 * @module
 */

import type { AcmeStatus } from "../acme/mod.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import { type Host, type LoadedCertificate, transportOf } from "../host/mod.ts";
import type { Health } from "../policy/mod.ts";
import type { BanList, Limiter } from "../ratelimit/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { VERSION } from "../version.ts";
import type { FederationMember } from "./federation_member.ts";
import type { NodeState } from "./node_state.ts";

/** What the status reads. */
export interface StatusSources {
  readonly peerId: string;
  readonly config: Pick<ResolvedConfig, "node">;
  readonly startedAtMs: number;
  readonly state: NodeState;
  health(): Health;
  readonly host: Pick<Host, "libp2p" | "certificate">;
  readonly relay: Pick<Relay, "stats">;
  readonly limiter: Pick<Limiter, "throttleFactor">;
  readonly bans: Pick<BanList, "size">;
  readonly federation: FederationMember | undefined;
  readonly acme: { status(): AcmeStatus } | undefined;
}

/**
 * The node's status document.
 *
 * @param s What it reads.
 * @param nowMs The current time, from the daemon's clock (for the uptime).
 * @returns The status, as JSON-ready data.
 */
export function nodeStatus(s: StatusSources, nowMs: number): Record<string, unknown> {
  const byTransport: Record<string, number> = {};
  let inbound = 0;
  const connections = s.host.libp2p.getConnections();
  for (const connection of connections) {
    const transport = transportOf(connection);
    byTransport[transport] = (byTransport[transport] ?? 0) + 1;
    if (connection.direction === "inbound") inbound++;
  }
  const health = s.health();
  return {
    peerId: s.peerId,
    version: VERSION,
    listen: s.host.libp2p.getMultiaddrs().map(String),
    announce: [...s.config.node.announce],
    uptimeSeconds: (nowMs - s.startedAtMs) / 1000,
    connections: {
      total: connections.length,
      inbound,
      outbound: connections.length - inbound,
      byTransport,
    },
    relay: s.relay.stats(),
    limiter: { throttleFactor: s.limiter.throttleFactor(), bans: s.bans.size() },
    ...s.state.readiness(health),
    draining: s.state.isDraining(),
    health,
    ...(s.federation === undefined
      ? {}
      : { federation: { members: s.federation.federation.summary().members } }),
    ...tlsStatus(s.host.certificate(), s.acme?.status()),
  };
}

/** The `tls` part: the certificate served on /tls/ws and the ACME state, when either exists. */
function tlsStatus(
  certificate: LoadedCertificate | undefined,
  acme: AcmeStatus | undefined,
): Record<string, unknown> {
  if (certificate === undefined && acme === undefined) return {};
  return {
    tls: {
      ...(certificate === undefined ? {} : {
        certificate: {
          source: certificate.source,
          domains: certificate.domains,
          issuer: certificate.issuer,
          notBefore: new Date(certificate.notBeforeMs).toISOString(),
          notAfter: new Date(certificate.notAfterMs).toISOString(),
        },
      }),
      ...(acme === undefined ? {} : { acme }),
    },
  };
}
