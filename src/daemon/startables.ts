/**
 * Starting and stopping the node's components as one ordered list, the way libp2p starts
 * its own: each {@linkcode Startable} is started in list order, each after the previous one
 * finished; they stop in reverse order; when one fails to start, the ones already started
 * are stopped again (in reverse) before the error is rethrown, so a failed start leaves no
 * listener, timer or worker behind.
 *
 * @example
 * ```ts
 * import { Startables } from "./startables.ts";
 * const order: string[] = [];
 * const part = (name: string) => ({
 *   name,
 *   start: () => void order.push(`start ${name}`),
 *   stop: () => void order.push(`stop ${name}`),
 * });
 * const startables = new Startables([part("host"), part("relay")]);
 * await startables.start();
 * await startables.stop();
 * // order = ["start host", "start relay", "stop relay", "stop host"]
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

const log = getLogger(["hopd", "daemon"]);

/** A component with something to start and stop (listeners, timers, workers, files). */
export interface Startable {
  /** Names the component in log lines and errors. */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** An ordered list of startables: started forwards, stopped in reverse. */
export class Startables {
  readonly #all: readonly Startable[];
  #started: Startable[] = [];

  /** @param all In start order. */
  constructor(all: readonly Startable[]) {
    this.#all = all;
  }

  /** The names, in start order. */
  names(): string[] {
    return this.#all.map((startable) => startable.name);
  }

  /**
   * Starts every startable in order. When one throws, stops the ones already started, in
   * reverse, and rethrows.
   *
   * @throws The first start error (stop errors during the rollback are logged).
   */
  async start(): Promise<void> {
    for (const startable of this.#all) {
      try {
        await startable.start();
      } catch (error) {
        // The caller reports the error once (the CLI's "Cannot start" line); this only says
        // which part failed and that the others are being rolled back.
        log.debug("Cannot start {name}: {message}; stopping what started", {
          name: startable.name,
          message: (error as Error).message,
        });
        await this.stop().catch(() => {});
        throw error;
      }
      this.#started.push(startable);
    }
  }

  /**
   * Stops every started startable in reverse order. One that throws does not keep the
   * others running.
   *
   * @throws The first stop error, after every startable was asked to stop.
   */
  async stop(): Promise<void> {
    const started = this.#started.reverse();
    this.#started = [];
    const errors: unknown[] = [];
    for (const startable of started) {
      try {
        await startable.stop();
      } catch (error) {
        log.error("Cannot stop {name}: {message}", {
          name: startable.name,
          message: (error as Error).message,
        });
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}
