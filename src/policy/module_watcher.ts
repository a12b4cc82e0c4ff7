/**
 * Watches a policies/ or plugins/ directory and tells which module names changed. Editors
 * save by writing a temp file and renaming it over the original, so the directory is
 * watched (not the file), names are filtered to module files, and events are collected for
 * a short debounce before one callback per burst. A directory that does not exist yet is
 * polled until it appears.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import { moduleNameOf } from "./module_table.ts";

/** Options of a {@linkcode ModuleWatcher}. */
export interface ModuleWatcherInit {
  readonly dir: string;
  /** Told the names whose files changed (or all names, at start). */
  readonly onChange: (names: ReadonlySet<string>) => Promise<void>;
  /** @default 50 */
  readonly debounceMs?: number;
  /** How often a missing directory is checked for. @default 2000 */
  readonly pollMs?: number;
  readonly onError?: (message: string) => void;
  /** The debounce and poll timers. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/** Watches one module directory. */
export class ModuleWatcher {
  readonly #init: ModuleWatcherInit;
  #watcher: Deno.FsWatcher | undefined;
  readonly #clock: Clock;
  #poll: TimerId | undefined;
  #debounce: TimerId | undefined;
  #pending = new Set<string>();
  #busy: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(init: ModuleWatcherInit) {
    this.#init = init;
    this.#clock = init.clock ?? SYSTEM_CLOCK;
  }

  /** Loads everything in the directory, then watches it. */
  async start(): Promise<void> {
    if (!await this.#isDir()) {
      this.#poll = this.#clock.setTimeout(() => void this.start(), this.#init.pollMs ?? 2_000);
      return;
    }
    if (this.#stopped) return;
    // Watch first, then scan: a save between the two is seen twice, never missed.
    this.#watcher = Deno.watchFs(this.#init.dir, { recursive: false });
    void this.#pump(this.#watcher);
    const names = new Set<string>();
    for await (const item of Deno.readDir(this.#init.dir)) {
      const name = item.isFile ? moduleNameOf(item.name) : undefined;
      if (name !== undefined) names.add(name);
    }
    await this.#deliver(names);
  }

  /** Stops watching; waits for a callback in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#poll);
    this.#clock.clearTimeout(this.#debounce);
    this.#watcher?.close();
    await this.#busy;
  }

  async #isDir(): Promise<boolean> {
    try {
      return (await Deno.stat(this.#init.dir)).isDirectory;
    } catch {
      return false;
    }
  }

  async #pump(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        for (const path of event.paths) {
          const name = moduleNameOf(path);
          if (name !== undefined) this.#pending.add(name);
        }
        if (this.#pending.size === 0) continue;
        this.#clock.clearTimeout(this.#debounce);
        this.#debounce = this.#clock.setTimeout(() => {
          this.#debounce = undefined;
          const names = this.#pending;
          this.#pending = new Set();
          void this.#deliver(names);
        }, this.#init.debounceMs ?? 50);
      }
    } catch (error) {
      if (!this.#stopped) {
        this.#init.onError?.(`watching ${this.#init.dir}: ${(error as Error).message}`);
      }
    }
  }

  #deliver(names: ReadonlySet<string>): Promise<void> {
    // One burst at a time, in order, so two saves never race to swap.
    this.#busy = this.#busy.then(() => this.#stopped ? undefined : this.#init.onChange(names))
      .catch((error) => this.#init.onError?.((error as Error).message));
    return this.#busy;
  }
}
