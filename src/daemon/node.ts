/**
 * The running node ({@linkcode Node}): the built components, their startables, and what the
 * CLI, the admin API and the policies ask of the node as a whole: readiness, status, drain,
 * reload and shutdown.
 *
 * Shutdown: the node state turns to stopping (/ready 503; the gate, the relay and the
 * federation see a drain), open circuits get up to `node.drain_timeout` to finish, then the
 * startables stop in reverse order (policy engine, limiter sweep, ops server, federation
 * with its "leaving" report, relay, host, and last the ban list's flush).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Clock } from "../clock/mod.ts";
import type { ResolvedConfig } from "../config/mod.ts";
import type { Readiness } from "../ops/mod.ts";
import type { Health, PolicyEngine } from "../policy/mod.ts";
import { type Relay, RELAY_EVENTS } from "../relay/mod.ts";
import type { Components } from "./components.ts";
import { applyReload, prepareReload } from "./reload.ts";
import type { Startables } from "./startables.ts";
import { nodeStatus } from "./status.ts";
import type { Daemon } from "./mod.ts";
import { HEALTHY } from "./node_state.ts";
import { VERSION } from "../version.ts";

const log = getLogger(["hopd", "daemon"]);

/** What a node needs besides its components. */
export interface NodeInit {
  readonly components: Components;
  readonly startables: Startables;
  /** Loads the config again (SIGHUP); absent = reload re-reads certificates and tokens only. */
  readonly loadConfig?: () => Promise<ResolvedConfig>;
  /** Settles {@linkcode Daemon.restartRequested}. */
  readonly restartRequested: Promise<string>;
}

/** A hopd node built from its components. */
export class Node implements Daemon {
  readonly #c: Components;
  readonly #startables: Startables;
  readonly #loadConfig: (() => Promise<ResolvedConfig>) | undefined;
  readonly restartRequested: Promise<string>;
  #shutdown: Promise<void> | undefined;

  /** @param init The components and how to reload. */
  constructor(init: NodeInit) {
    this.#c = init.components;
    this.#startables = init.startables;
    this.#loadConfig = init.loadConfig;
    this.restartRequested = init.restartRequested;
  }

  get peerId(): string {
    return this.#c.peerId;
  }

  get policy(): PolicyEngine | undefined {
    return this.#c.policy;
  }

  get opsAddress(): { readonly hostname: string; readonly port: number } {
    return this.#c.ops.address;
  }

  /**
   * Starts every startable in order (rolled back if one fails) and logs where it listens.
   *
   * @throws The first start error.
   */
  async start(): Promise<void> {
    await this.#startables.start();
    this.#logStarted();
  }

  listenAddrs(): string[] {
    return this.#c.host.libp2p.getMultiaddrs().map(String);
  }

  readiness(): Readiness {
    return this.#c.state.readiness(this.#health());
  }

  status(): Record<string, unknown> {
    return nodeStatus({ ...this.#c, health: () => this.#health() }, this.#c.clock.nowMs());
  }

  setDraining(draining: boolean): void {
    this.#c.state.requestDrain(draining);
  }

  async reload(): Promise<boolean> {
    const { config, metrics } = this.#c;
    let parts: string[];
    try {
      const plan = await prepareReload({
        ...(this.#loadConfig === undefined ? {} : { loadConfig: this.#loadConfig }),
        tls: config.tls,
      });
      parts = applyReload(plan, this.#c);
    } catch (error) {
      metrics.reloads.inc({ result: "error" });
      log.error("Reload failed, keeping the previous settings: {message}", {
        message: (error as Error).message,
      });
      return false;
    }
    metrics.reloads.inc({ result: "ok" });
    log.info("Reloaded: {parts}", {
      parts: parts.length > 0 ? parts.join(", ") : "nothing to reload",
    });
    return true;
  }

  shutdown(): Promise<void> {
    return this.#shutdown ??= this.#stop();
  }

  async #stop(): Promise<void> {
    const { state, relay, config } = this.#c;
    state.beginShutdown();
    log.info("Shutting down: waiting up to {drainTimeoutMs} ms for {circuits} circuits", {
      drainTimeoutMs: config.node.drainTimeoutMs,
      circuits: relay.stats().circuits,
    });
    await drained(relay, this.#c.clock, config.node.drainTimeoutMs);
    await this.#startables.stop();
    log.info("Stopped");
  }

  #health(): Health {
    return this.#c.policy?.health() ?? HEALTHY;
  }

  #logStarted(): void {
    const ops = this.#c.ops.address;
    log.info("hopd {version} started as {peerId}", {
      version: VERSION,
      peerId: this.peerId,
      pid: Deno.pid,
    });
    log.info("Listening on {addrs}", { addrs: this.listenAddrs() });
    log.info("Ops HTTP server listening on {url}", {
      url: `http://${ops.hostname.includes(":") ? `[${ops.hostname}]` : ops.hostname}:${ops.port}`,
      hostname: ops.hostname,
      port: ops.port,
    });
  }
}

/**
 * Resolves once `relay` has no open circuit (checked on each of its `circuit` events, not on a
 * timer), or when `timeoutMs` have passed on `clock`.
 */
function drained(relay: Relay, clock: Clock, timeoutMs: number): Promise<void> {
  if (relay.stats().circuits === 0 || timeoutMs <= 0) return Promise.resolve();
  const { promise, resolve } = Promise.withResolvers<void>();
  const done = () => {
    clock.clearTimeout(timer);
    relay.events.removeEventListener(RELAY_EVENTS.circuit, onCircuit);
    resolve();
  };
  const onCircuit = () => {
    if (relay.stats().circuits === 0) done();
  };
  const timer = clock.setTimeout(done, timeoutMs);
  relay.events.addEventListener(RELAY_EVENTS.circuit, onCircuit);
  return promise;
}
