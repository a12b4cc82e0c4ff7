/**
 * The daemon's control API as the policy engine drives it: the limiter, the ban list, the
 * libp2p host, drain and restart. Policies act through this, never through HTTP.
 *
 * @module
 */

import type { Clock } from "../clock/mod.ts";
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Actuator } from "../policy/mod.ts";
import {
  type BanList,
  banScope,
  type BanWidthLimits,
  type Limiter,
  type LimitKey,
} from "../ratelimit/mod.ts";
import { banTarget, disconnectPeer } from "./admission.ts";

/** What the actuator drives. */
export interface PolicyActuatorComponents {
  /** The ban list's clock (expiries are compared with it). */
  readonly clock: Clock;
  readonly limiter: Limiter;
  readonly bans: BanList;
  /** The widest CIDR bans allowed (a policy never forces one). */
  banWidth(): BanWidthLimits;
  readonly libp2p: Libp2p;
  draining(): boolean;
  setDraining(draining: boolean): void;
  requestRestart(reason: string): void;
  /** The balancer weight, when federation runs. */
  readonly weight?: Actuator["weight"];
}

/**
 * Builds the policy engine's actuator.
 *
 * @param c What it drives.
 * @returns The actuator.
 */
export function policyActuator(c: PolicyActuatorComponents): Actuator {
  return {
    throttle: (factor, forMs) => c.limiter.setThrottle(factor, forMs),
    setLimit: (key, value) => c.limiter.setLimit(key, value),
    limit: (key) => c.limiter.limits()[key as LimitKey],
    draining: () => c.draining(),
    setDraining: (draining) => c.setDraining(draining),
    restart: (reason) => c.requestRestart(reason),
    isBanned(target) {
      const now = c.clock.nowMs();
      if (target.peer !== undefined) return c.bans.isPeerBanned(target.peer, now);
      const cidr = target.cidr!;
      return c.bans.list(now).some((ban) =>
        ban.kind === "cidr" && (ban.value === cidr || ban.value.split("/")[0] === cidr)
      );
    },
    banScope: (target) => banScope(target, c.banWidth()),
    ban(target, ttlMs, reason) {
      c.bans.ban({ ...banTarget(target), reason, ttlMs });
    },
    disconnect: (peer) => disconnectPeer(c.libp2p, peerIdFromString(peer)),
    connectedPeers: () =>
      new Set(c.libp2p.getConnections().map((x) => x.remotePeer.toString())).size,
    ...(c.weight === undefined ? {} : { weight: c.weight }),
  };
}
