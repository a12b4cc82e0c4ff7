/**
 * Glue between the rate limiter and the libp2p side: the relay's admission hooks (the limiter's, then the policy plugins'), the
 * connection gate's IP, and ban enforcement (a new ban closes the banned party's
 * connections at once); the ban target and disconnect the admin API and the policies share.
 *
 * @module
 */

import type { Connection, Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { ipOf } from "../ip/mod.ts";
import {
  type Ban,
  type CheckResult,
  CidrSet,
  type Limiter,
  UNLIMITED_FLOW,
} from "../ratelimit/mod.ts";
import type { PluginAdmission } from "../policy/mod.ts";
import type { Admission, RelayAdmission } from "../relay/mod.ts";

function refusal(result: CheckResult): Admission {
  if (result.ok) return result;
  return {
    ok: false,
    // Bans and deny lists are a permission matter; rates are a resource matter.
    status: result.reason === "banned" || result.reason === "denied"
      ? "PERMISSION_DENIED"
      : "RESOURCE_LIMIT_EXCEEDED",
    reason: result.reason,
  };
}

/**
 * The relay's admission hooks, backed by the limiter.
 *
 * @param limiter The limiter.
 * @param allowlistMaxCircuitsPerPeer Circuit limit for allowlisted peers (0 = unlimited).
 * @returns The hooks.
 */
export function relayAdmission(
  limiter: Limiter,
  allowlistMaxCircuitsPerPeer: () => number,
): RelayAdmission {
  return {
    reservation: (peer, ip) => refusal(limiter.checkReservation(peer, ip)),
    circuit: (source, ip, target) => refusal(limiter.checkCircuit(source, ip, target)),
    maxCircuitsPerPeer: (source, ip) =>
      limiter.isAllowlisted(source, ip) ? allowlistMaxCircuitsPerPeer() : undefined,
    openFlow: (source, ip) => {
      const flow = limiter.openFlow(source, ip);
      // The unlimited flow costs nothing, but skipping it keeps the data path branch-free.
      return flow === UNLIMITED_FLOW ? undefined : flow;
    },
  };
}

/** The plugin hooks the relay asks (the policy engine's `PluginHost`). */
export interface PluginHooks {
  reservation(event: { peer: string; ip?: string }): Promise<PluginAdmission> | undefined;
  circuit(
    event: { source: string; ip?: string; target: string },
  ): Promise<PluginAdmission> | undefined;
}

/**
 * Adds the plugins' admission hooks to the limiter's admission. Plugins are asked only after
 * the limiter admitted; no plugin with the hook means no await on the hot path.
 *
 * @param admission The limiter's admission.
 * @param plugins The plugin hooks, or undefined while there are none.
 * @returns The admission with `reservationHook` and `circuitHook`.
 */
export function withPluginHooks(
  admission: RelayAdmission,
  plugins: () => PluginHooks | undefined,
): RelayAdmission {
  const answer = (
    pending: Promise<PluginAdmission> | undefined,
    status: "RESERVATION_REFUSED" | "PERMISSION_DENIED",
  ): Promise<Admission> | undefined =>
    pending?.then((a) => a.accept ? { ok: true } : { ok: false, status, reason: "plugin" });
  return {
    ...admission,
    reservationHook: (peer, ip) =>
      answer(
        plugins()?.reservation({ peer, ...(ip === undefined ? {} : { ip }) }),
        "RESERVATION_REFUSED",
      ),
    circuitHook: (source, ip, target) =>
      answer(
        plugins()?.circuit({ source, ...(ip === undefined ? {} : { ip }), target }),
        "PERMISSION_DENIED",
      ),
  };
}

/**
 * Closes the connections a new ban covers: every connection of a banned peer, or every
 * connection from an address inside a banned CIDR.
 *
 * @param libp2p The host.
 * @param ban The new ban.
 * @returns How many connections were closed.
 */
export async function closeBanned(libp2p: Libp2p, ban: Ban): Promise<number> {
  let victims: Connection[];
  if (ban.kind === "peer") {
    let peer: PeerId;
    try {
      peer = peerIdFromString(ban.value);
    } catch {
      return 0;
    }
    victims = libp2p.getConnections(peer);
  } else {
    const cidr = new CidrSet([ban.value]);
    victims = libp2p.getConnections().filter((connection) => {
      const ip = ipOf(connection.remoteAddr);
      return ip !== undefined && cidr.has(ip);
    });
  }
  await Promise.allSettled(
    victims.map((connection) =>
      connection.close().catch(() => connection.abort(new Error("banned")))
    ),
  );
  return victims.length;
}

/**
 * The ban a request names: its peer, or else its CIDR (the admin API's and the policies'
 * schemas require exactly one).
 *
 * @param target The request.
 * @returns The ban's kind and value.
 * @throws {TypeError} When it names neither.
 */
export function banTarget(
  target: { readonly peer?: string | undefined; readonly cidr?: string | undefined },
): { kind: "peer" | "cidr"; value: string } {
  if (target.peer !== undefined) return { kind: "peer", value: target.peer };
  if (target.cidr !== undefined) return { kind: "cidr", value: target.cidr };
  throw new TypeError("A ban needs a peer or a cidr");
}

/**
 * Closes every connection of a peer (the admin API's and the policies' `disconnect`).
 *
 * @param libp2p The host.
 * @param peer The peer.
 * @returns How many connections it had.
 */
export async function disconnectPeer(
  libp2p: Pick<Libp2p, "getConnections" | "hangUp">,
  peer: PeerId,
): Promise<number> {
  const count = libp2p.getConnections(peer).length;
  await libp2p.hangUp(peer);
  return count;
}
