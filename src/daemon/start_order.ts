/**
 * What starts, in which order: the node's one ordered list of {@linkcode Startable}s, which
 * `Startables` starts forwards and stops in reverse (after the drain, see `node.ts`). A new
 * component with a listener, a timer, a worker or a file to open goes here, after the
 * components it needs running, and so stops before them.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Clock, TimerId } from "../clock/mod.ts";
import type { PolicyEngine } from "../policy/mod.ts";
import type { BanList, Limiter } from "../ratelimit/mod.ts";
import type { SocketGuards } from "../sockets/mod.ts";
import type { Components } from "./components.ts";
import type { Startable } from "./startables.ts";

const log = getLogger(["hopd", "daemon"]);

/** How often idle rate-limiter buckets are dropped, in milliseconds. */
const LIMITER_SWEEP_INTERVAL_MS = 10_000;

/**
 * How long after the start the node compacts its memory, in milliseconds: after the first
 * `/ready`, and early enough that the policies' sandboxes, compiled meanwhile, land in a heap
 * and malloc arenas the start left collected (compacting only after the first policy tick left
 * 3-4 MB more resident at rest: bench/RESULTS.md, "memory at rest, fifth session").
 */
export const MEMORY_AT_REST_DELAY_MS = 1_000;

/**
 * The components that start and stop, in start order (they stop in reverse).
 *
 * @param c The built components.
 * @returns The ordered list.
 */
export function startOrder(c: Components): Startable[] {
  return [
    // Loaded before the host accepts anyone; flushed last, so a ban made while draining is
    // still written.
    { name: "ban list", start: () => loadBans(c.bans), stop: () => c.bans.flush() },
    {
      name: "libp2p host",
      start: async () => {
        await c.host.start();
        c.state.setListening(c.host.libp2p.getMultiaddrs().length > 0);
      },
      stop: async () => {
        await c.host.stop();
        c.state.setListening(false);
      },
    },
    named("relay", c.relay),
    ...(c.autonat === undefined ? [] : [named("autonat", c.autonat)]),
    // Its last report ("leaving") needs the host and the relay: it stops before them.
    ...(c.federation === undefined ? [] : [named("federation", c.federation)]),
    // Binds the http-01 address and orders in the background: TCP and WS serve meanwhile.
    ...(c.acme === undefined ? [] : [named("acme", c.acme)]),
    c.ops,
    // After the listeners it watches, so that it stops before them: a probe of a closing
    // listener would open it again.
    socketGuardTimers(c.sockets),
    limiterSweep(c.limiter, c.clock),
    ...(c.snapshots === undefined ? [] : [named("policy snapshots", c.snapshots)]),
    ...(c.policy === undefined ? [] : [policyStartable(c.policy)]),
    // The engine compacts once more after its first tick (components.ts).
    memoryAtRest(c.compactMemory, c.clock),
  ];
}

async function loadBans(bans: BanList): Promise<void> {
  const loaded = await bans.load();
  if (loaded.warning !== undefined) log.warn("Bans: {message}", { message: loaded.warning });
  if (loaded.loaded > 0) log.info("Loaded {count} bans", { count: loaded.loaded });
  if (loaded.strayRemoved !== undefined) {
    log.info("Removed {count} temporary ban files an interrupted save left", {
      count: loaded.strayRemoved,
    });
  }
}

function socketGuardTimers(sockets: SocketGuards): Startable {
  const guards = [sockets.libp2p, sockets.ops];
  return {
    name: "socket guards",
    start: () => guards.forEach((guard) => guard.start()),
    stop: () => guards.forEach((guard) => guard.stop()),
  };
}

function limiterSweep(limiter: Limiter, clock: Clock): Startable {
  let timer: TimerId | undefined;
  return {
    name: "limiter sweep",
    start: () => void (timer = clock.setInterval(() => limiter.sweep(), LIMITER_SWEEP_INTERVAL_MS)),
    stop: () => clock.clearInterval(timer),
  };
}

/**
 * The start's garbage (module evaluation, the config schema) collected and the freed native
 * memory trimmed once the node has been up a moment: not in the start itself, where the full
 * collection held the first `/ready` back by about 150 ms (bench/RESULTS.md, "README test
 * command wall time"), and where allocations made just after the start escaped the trim.
 */
function memoryAtRest(compactMemory: () => void, clock: Clock): Startable {
  let timer: TimerId | undefined;
  return {
    name: "memory at rest",
    start: () => {
      timer = clock.setTimeout(() => {
        timer = undefined;
        compactMemory();
      }, MEMORY_AT_REST_DELAY_MS);
      // A node stopped sooner has nothing to wait for.
      clock.unrefTimer(timer);
    },
    stop: () => clock.clearTimeout(timer),
  };
}

function policyStartable(engine: PolicyEngine): Startable {
  return {
    name: "policy engine",
    start() {
      // In the background: /ready does not wait for policies to compile.
      engine.start().then(() => {
        const view = engine.policies().policies;
        log.info("Policy engine started: {policies} policies, {plugins} plugins", {
          policies: view.filter((p) => p.kind === "policy" && p.state === "active").length,
          plugins: view.filter((p) => p.kind === "plugin" && p.state === "active").length,
        });
      }, (error) => {
        log.error("Policy engine failed to start: {message}", {
          message: (error as Error).message,
        });
      });
    },
    stop: () => engine.stop(),
  };
}

function named(
  name: string,
  part: { start(): Promise<void> | void; stop(): Promise<void> | void },
): Startable {
  return { name, start: () => part.start(), stop: () => part.stop() };
}
