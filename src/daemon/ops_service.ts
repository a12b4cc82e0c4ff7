/**
 * The ops HTTP server as the daemon runs it: the ops app with the node's readiness, status,
 * admin control (bans, listings, drain, disconnects), the policy routes when the engine runs
 * and the federation routes, served on `http.listen` while the node runs.
 *
 * @module
 */

import type { Clock } from "../clock/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import { parseDurationMs } from "../config/mod.ts";
import type { Host } from "../host/mod.ts";
import {
  createOpsApp,
  type FederationRoutesComponents,
  type OpsApp,
  type OpsServer,
  type Readiness,
  serveOps,
  type ServeOpsOptions,
} from "../ops/mod.ts";
import type { PolicyEngine } from "../policy/mod.ts";
import { type BanList, banWidthFrom, type Limiter } from "../ratelimit/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { adminControl } from "./admin_control.ts";
import type { FederationMember } from "./federation_member.ts";
import type { Settings } from "./settings.ts";
import type { Startable } from "./startables.ts";

/** What the daemon's ops app serves. */
export interface DaemonOpsSources {
  readonly peerId: string;
  readonly config: Pick<ResolvedConfig, "federation">;
  readonly settings: Settings;
  readonly registry: MetricsRegistry;
  readonly clock: Clock;
  readonly limiter: Limiter;
  readonly bans: BanList;
  readonly host: Host;
  readonly relay: Relay;
  readonly policy: PolicyEngine | undefined;
  readonly federation: FederationMember | undefined;
  readiness(): Readiness;
  status(): Record<string, unknown>;
  setDraining(draining: boolean): void;
}

/**
 * Builds the ops app of a node.
 *
 * @param s What it serves.
 * @returns The app (not listening).
 */
export function daemonOpsApp(s: DaemonOpsSources): OpsApp {
  return createOpsApp({
    registry: s.registry,
    clock: s.clock,
    readiness: () => s.readiness(),
    status: () => s.status(),
    httpAdmission: (ip, caller) => (ip === "" ? { ok: true } : s.limiter.checkHttp(ip, caller)),
    admin: {
      control: adminControl({
        libp2p: s.host.libp2p,
        relay: s.relay,
        bans: s.bans,
        banWidth: () => banWidthFrom(s.settings.config),
        setDraining: (draining) => s.setDraining(draining),
      }),
      auth: () => s.settings.adminAuth(),
      parseDurationMs,
    },
    ...(s.policy === undefined ? {} : { policy: s.policy }),
    federation: federationRouteSources(s),
  });
}

function federationRouteSources(s: DaemonOpsSources): FederationRoutesComponents {
  const member = s.federation?.federation;
  if (member === undefined) {
    return {
      view: () => ({
        enabled: false,
        self: s.peerId,
        topic: s.config.federation.topic,
        members: [],
      }),
    };
  }
  return { view: () => member.view(), select: member.select.bind(member) };
}

/** The ops server: listens on start, shuts down on stop. */
export class OpsService implements Startable {
  readonly name = "ops server";
  readonly #app: OpsApp;
  readonly #listen: ServeOpsOptions;
  #server: OpsServer | undefined;

  /**
   * @param app The app to serve.
   * @param listen Where to listen (`http.listen`; port 0 picks one), and its socket guard.
   */
  constructor(app: OpsApp, listen: ServeOpsOptions) {
    this.#app = app;
    this.#listen = listen;
  }

  /**
   * Where the server listens.
   *
   * @throws {Error} When it is not running.
   */
  get address(): { readonly hostname: string; readonly port: number } {
    if (this.#server === undefined) throw new Error("The ops server is not running");
    return { hostname: this.#server.hostname, port: this.#server.port };
  }

  /** Listens. @throws {Deno.errors.AddrInUse} When the address is taken. */
  async start(): Promise<void> {
    this.#server = await serveOps(this.#app, this.#listen);
  }

  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}
