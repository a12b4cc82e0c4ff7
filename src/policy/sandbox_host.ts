/**
 * The engine's sandboxes on the main thread (`policy.sandbox_thread = "main"`, the default):
 * the same requests as {@linkcode SandboxWorker}, answered without a worker thread, which saves
 * the worker's isolate and runtime (bench/RESULTS.md, "Latest figures", idle RSS rows).
 *
 * Each sandbox keeps its own QuickJS instance and capped memory (src/policy/sandbox.ts), so the
 * policies stay apart from each other and from the host as in the worker. A call or a module's
 * top level that overruns its deadline in QuickJS's bytecode is interrupted there; one stuck in
 * a native built-in, where the interrupt never fires, is terminated by V8 at the hard limit
 * (deadline + `policy.kill_grace`, src/policy/run_guarded.ts). That sandbox alone is dropped and
 * loaded again from its source; the call is answered "killed" and counted as a restart, as a
 * killed worker is. The price against the worker: until then the main thread is busy, so a
 * runaway stalls the relay for at most deadline + kill_grace per call (a quarantined policy
 * stops being called after three kills).
 *
 * Requests run one at a time in order, as the worker runs them.
 *
 * @module
 */

import { runGuarded } from "./run_guarded.ts";
import type { CallOutcome, Sandbox, SandboxFailure } from "./sandbox.ts";
import {
  type LoadOutcome,
  type ModuleLoad,
  type SandboxCall,
  SandboxWorker,
  type SandboxWorkerInit,
} from "./sandbox_worker.ts";

/** Options of a {@linkcode SandboxHost}: the worker's, without its clock or load timeout. */
export type SandboxHostInit = Pick<SandboxWorkerInit, "graceMs" | "onRestart">;

/** Sandboxes run on the caller's thread, each stopped at its hard limit. */
export class SandboxHost {
  readonly #sandboxes = new Map<string, Sandbox>();
  readonly #loads = new Map<string, ModuleLoad>();
  /** Snapshots as JSON, oldest first: seeds the history of sandboxes loaded later. */
  readonly #ring: string[] = [];
  #ringMax = 60;
  #queue: Promise<unknown> = Promise.resolve();
  #restarts = 0;
  #closed = false;
  readonly #graceMs: number;
  readonly #onRestart: ((reason: string) => void) | undefined;

  /**
   * Creates the host; QuickJS is read on the first load.
   *
   * @param init The grace past a deadline before a call is terminated, the restart listener.
   */
  constructor(init: SandboxHostInit) {
    this.#graceMs = init.graceMs;
    this.#onRestart = init.onRestart;
  }

  /** Calls or loads terminated at their hard limit (their sandbox loaded again). */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Compiles a module into the sandbox `name` (replacing what was there only on success).
   *
   * @param module The sandbox's name, the module's file name and source, and its limits.
   * @returns The module's function exports, or why it failed.
   */
  load(module: ModuleLoad): Promise<LoadOutcome> {
    return this.#serial(async () => {
      if (this.#closed) return killed(0);
      const started = performance.now();
      const loaded = await this.#create(module);
      if ("ok" in loaded) return loaded;
      this.#sandboxes.get(module.name)?.dispose();
      this.#sandboxes.set(module.name, loaded);
      this.#loads.set(module.name, module);
      return { ok: true, exports: loaded.exports, durationMs: performance.now() - started };
    });
  }

  /** Frees the sandbox `name`. */
  unload(name: string): Promise<void> {
    return this.#serial(() => {
      this.#sandboxes.get(name)?.dispose();
      this.#sandboxes.delete(name);
      this.#loads.delete(name);
      return Promise.resolve();
    });
  }

  /**
   * Calls `fn` of sandbox `name`.
   *
   * @param deadlineMs The sandbox's deadline; the call is terminated at deadline + grace.
   */
  call(request: SandboxCall, deadlineMs: number): Promise<CallOutcome> {
    return this.#serial(async (): Promise<CallOutcome> => {
      const hardMs = deadlineMs + this.#graceMs;
      const sandbox = this.#sandboxes.get(request.name);
      if (this.#closed) return killed(hardMs);
      if (sandbox === undefined) {
        return { ok: false, kind: "runtime", message: "not loaded", durationMs: 0 };
      }
      const history = request.history;
      const run = runGuarded(() =>
        sandbox.call({
          fn: request.fn,
          argsJson: request.argsJson,
          stateJson: request.stateJson,
          nowMs: request.nowMs,
          seed: request.seed,
          history: history === undefined ? "own" : historyOf(history, false),
        }), hardMs);
      if (!run.ok) {
        await this.#restart(request.name, `${request.name}.${request.fn}() ran past ${hardMs} ms`);
        return killed(hardMs);
      }
      // An exhausted heap may be left inconsistent: start this sandbox afresh.
      if (!run.value.ok && run.value.kind === "memory") await this.#reload(request.name, true);
      return run.value;
    });
  }

  /** Remembers a snapshot for the history of sandboxes loaded later (each keeps its own). */
  pushHistory(snapshotJson: string, max: number): Promise<void> {
    this.#ring.push(snapshotJson);
    this.#ringMax = max;
    if (this.#ring.length > max) this.#ring.splice(0, this.#ring.length - max);
    return Promise.resolve();
  }

  /** Frees every sandbox; later requests answer as killed. */
  close(): void {
    this.#closed = true;
    for (const sandbox of this.#sandboxes.values()) sandbox.dispose();
    this.#sandboxes.clear();
    this.#loads.clear();
  }

  /** Runs `task` after every request before it. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const done = this.#queue.then(task);
    this.#queue = done.catch(() => {});
    return done;
  }

  /**
   * A sandbox of `module` with the history so far, its top level and seeding under the hard
   * limit; a load terminated there counts as a restart and is answered "killed".
   */
  async #create(module: ModuleLoad): Promise<Sandbox | SandboxFailure> {
    // QuickJS (half a megabyte of source with its wasm) is read on the first load, not at
    // start: a node without policies never holds it (tests/module_graph_test.ts).
    const { Sandbox } = await import("./sandbox.ts");
    const instance = await Sandbox.instantiate(module.limits);
    const hardMs = module.limits.deadlineMs + this.#graceMs;
    const run = runGuarded(() => {
      const loaded = Sandbox.load(instance, module);
      if (loaded instanceof Sandbox) {
        loaded.seedHistory(historyOf(this.#ring, true)(this.#ringMax), this.#ringMax);
      }
      return loaded;
    }, hardMs);
    if (run.ok) return run.value;
    this.#counted(`loading ${module.name} ran past ${hardMs} ms`);
    return killed(hardMs);
  }

  /** Drops the terminated sandbox `name` (never touched again) and loads it afresh. */
  async #restart(name: string, reason: string): Promise<void> {
    this.#counted(reason);
    await this.#reload(name, false);
  }

  async #reload(name: string, dispose: boolean): Promise<void> {
    const sandbox = this.#sandboxes.get(name);
    this.#sandboxes.delete(name);
    if (dispose) sandbox?.dispose();
    const load = this.#loads.get(name);
    if (load === undefined || this.#closed) return;
    const fresh = await this.#create(load);
    if (!("ok" in fresh)) this.#sandboxes.set(name, fresh);
  }

  #counted(reason: string): void {
    this.#restarts++;
    this.#onRestart?.(reason);
  }
}

/** ctx.history(n) over JSON snapshots, newest first. */
function historyOf(items: readonly string[], newestLast: boolean) {
  return (n: number): string => {
    const count = n < 0 ? items.length : Math.min(Math.floor(n), items.length);
    if (count <= 0) return "[]";
    const picked = newestLast ? items.slice(items.length - count).reverse() : items.slice(0, count);
    return `[${picked.join(",")}]`;
  };
}

function killed(hardMs: number): SandboxFailure {
  return {
    ok: false,
    kind: "killed",
    message: `did not finish within ${hardMs} ms (a native built-in ignores the deadline): ` +
      "terminated and loaded again",
    durationMs: hardMs,
  };
}

/** What the engine, the plugin host and the module table need of either runner. */
export type SandboxRunner = Pick<
  SandboxWorker,
  "load" | "unload" | "call" | "pushHistory" | "close" | "restarts"
>;

/**
 * The runner `policy.sandbox_thread` names: the main thread (`"main"`) or a worker thread.
 *
 * @param thread `policy.sandbox_thread`.
 * @param init The grace, the restart listener and the worker's watchdog clock.
 * @returns A {@linkcode SandboxHost} or a {@linkcode SandboxWorker}.
 */
export function sandboxRunner(thread: "main" | "worker", init: SandboxWorkerInit): SandboxRunner {
  return thread === "main" ? new SandboxHost(init) : new SandboxWorker(init);
}
