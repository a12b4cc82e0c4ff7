/**
 * The engine's handle on a sandbox worker: requests and replies paired by id, and a watchdog
 * that terminates the worker when the request it is running overruns its hard limit (the
 * sandbox deadline plus a grace), then starts a fresh worker and loads every module again.
 * The watchdog waits on the worker's own account of what it runs (a shared slot the worker
 * sets and notifies, `Atomics.waitAsync` here): when a request starts, one timer of its hard
 * limit starts on the injected clock; when the slot moves on, the timer goes.
 * Only the request that was running is answered "killed": the ones queued behind it are sent
 * again to the fresh worker, so a kill is never blamed on a policy that merely waited.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import type { CallOutcome, SandboxLimits } from "./sandbox.ts";
import {
  type LoadOutcome,
  type SandboxCall,
  SHARED_BYTES,
  type WorkerReply,
  type WorkerRequest,
} from "./_worker_protocol.ts";

/** A module to load into a sandbox. */
export interface ModuleLoad {
  /** The sandbox's name (one per module revision). */
  readonly name: string;
  /** Shown in stack traces and errors. */
  readonly fileName: string;
  /** The module's JavaScript source. */
  readonly source: string;
  /** Memory, stack and deadline of its sandbox. */
  readonly limits: SandboxLimits;
}

export type { LoadOutcome, SandboxCall };

/** Options of a {@linkcode SandboxWorker}. */
export interface SandboxWorkerInit {
  /**
   * Time past a call's deadline before the worker is deemed hung and killed: room for a
   * worker thread starved of CPU on a loaded host (`policy.kill_grace`).
   */
  readonly graceMs: number;
  /** Longest module load (first load compiles the wasm). @default 10_000 */
  readonly loadTimeoutMs?: number;
  /** Told after the worker was killed and restarted. */
  readonly onRestart?: (reason: string) => void;
  /** The watchdog's timers. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

interface Pending {
  readonly request: Request;
  readonly hardMs: number;
  readonly resolve: (reply: WorkerReply | undefined) => void;
  /** Already sent again once after a kill (a second kill answers it "killed"). */
  resent?: boolean;
}

type Load = WorkerRequest & { op: "load" };
type Request = Exclude<WorkerRequest, { op: "init" }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The worker's module: `_worker.ts` beside this file, or, when this file is part of the bundle
 * (scripts/bundle.sh, what the compiled binary embeds), the worker's bundle beside `hopd.js`.
 */
const WORKER_URL = new URL(
  import.meta.url.endsWith(".ts") ? "./_worker.ts" : "./hopd_sandbox_worker.js",
  import.meta.url,
).href;
const HISTORY_OP_TIMEOUT_MS = 5_000;

/** A worker running sandboxes, restarted when it hangs. */
export class SandboxWorker {
  #worker: Worker | undefined;
  #running = new Int32Array(new SharedArrayBuffer(SHARED_BYTES), 0, 1);
  readonly #pending: Pending[] = [];
  readonly #loads = new Map<string, Load>();
  readonly #history: string[] = [];
  #historyMax = 0;
  #nextId = 1;
  /** The hard-limit timer of the request the worker runs now. */
  #watchdog: TimerId | undefined;
  #restarts = 0;
  #closed = false;
  readonly #graceMs: number;
  readonly #loadTimeoutMs: number;
  readonly #onRestart: ((reason: string) => void) | undefined;
  readonly #clock: Clock;

  /**
   * Creates the handle; the worker itself starts on the first request.
   *
   * @param init The watchdog's grace and clock, the load timeout and the restart listener.
   */
  constructor(init: SandboxWorkerInit) {
    this.#graceMs = init.graceMs;
    this.#clock = init.clock ?? SYSTEM_CLOCK;
    this.#loadTimeoutMs = init.loadTimeoutMs ?? 10_000;
    this.#onRestart = init.onRestart;
  }

  /** Times the worker was killed and restarted. */
  get restarts(): number {
    return this.#restarts;
  }

  /**
   * Compiles a module into the sandbox `name` (replacing what was there only on success).
   *
   * @param module The sandbox's name, the module's file name and source, and its limits.
   * @returns The module's function exports, or why it failed.
   */
  async load(module: ModuleLoad): Promise<LoadOutcome> {
    const { name, limits } = module;
    const request = { op: "load", ...module } as const;
    const reply = await this.#send(request, this.#loadTimeoutMs + limits.deadlineMs);
    const outcome = reply?.op === "load" ? reply.outcome : killed(this.#loadTimeoutMs);
    if (outcome.ok) this.#loads.set(name, { ...request, id: 0 });
    return outcome;
  }

  /** Frees the sandbox `name`. */
  async unload(name: string): Promise<void> {
    this.#loads.delete(name);
    if (this.#worker !== undefined) await this.#send({ op: "unload", name }, this.#loadTimeoutMs);
  }

  /**
   * Calls `fn` of sandbox `name`.
   *
   * @param deadlineMs The sandbox's deadline; the worker is killed at deadline + grace.
   */
  async call(
    request: SandboxCall,
    deadlineMs: number,
  ): Promise<CallOutcome> {
    const hardMs = deadlineMs + this.#graceMs;
    const reply = await this.#send({ op: "call", ...request }, hardMs);
    return reply?.op === "call" ? reply.outcome : killed(hardMs);
  }

  /** Remembers a snapshot for ctx.history() (kept here too, to refill a restarted worker). */
  async pushHistory(snapshotJson: string, max: number): Promise<void> {
    // Send first: a send that starts a fresh worker replays the kept history before this
    // snapshot, which would otherwise arrive twice.
    const sent = this.#send({ op: "history", snapshotJson, max }, HISTORY_OP_TIMEOUT_MS);
    this.#history.push(snapshotJson);
    this.#historyMax = max;
    if (this.#history.length > max) this.#history.splice(0, this.#history.length - max);
    await sent;
  }

  /** Terminates the worker; pending requests resolve as killed. */
  close(): void {
    this.#closed = true;
    this.#kill();
  }

  #send(
    request: DistributiveOmit<Request, "id">,
    hardMs: number,
  ): Promise<WorkerReply | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    const worker = this.#ensureWorker();
    const { promise, resolve } = Promise.withResolvers<WorkerReply | undefined>();
    const full = { ...request, id: this.#nextId++ } as Request;
    this.#pending.push({ request: full, hardMs, resolve });
    worker.postMessage(full);
    return promise;
  }

  #ensureWorker(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(WORKER_URL, { type: "module" });
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.#onReply(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#restart(`worker error: ${event.message}`, Atomics.load(this.#running, 0));
    };
    this.#worker = worker;
    const shared = new SharedArrayBuffer(SHARED_BYTES);
    this.#running = new Int32Array(shared, 0, 1);
    this.#watch(this.#running, 0);
    worker.postMessage(
      { id: 0, op: "init", shared, trimWhenLoaded: this.#restarts === 0 } satisfies WorkerRequest,
    );
    // A fresh worker gets every module and the history again, before any queued request.
    for (const snapshotJson of this.#history) {
      const request = { op: "history", snapshotJson, max: this.#historyMax, id: this.#nextId++ };
      this.#pending.push({
        request: request as Request,
        hardMs: HISTORY_OP_TIMEOUT_MS,
        resolve: () => {},
      });
      worker.postMessage(request);
    }
    for (const load of this.#loads.values()) {
      const request = { ...load, id: this.#nextId++ };
      this.#pending.push({
        request,
        hardMs: this.#loadTimeoutMs + load.limits.deadlineMs,
        resolve: () => {},
      });
      worker.postMessage(request);
    }
    return worker;
  }

  #onReply(reply: WorkerReply): void {
    const index = this.#pending.findIndex((p) => p.request.id === reply.id);
    if (index < 0) return;
    const [done] = this.#pending.splice(index, 1);
    done!.resolve(reply);
  }

  /**
   * Follows the worker's slot from `seen` on: each time the worker notes another request as
   * running, times it against its hard limit. A slot of a worker since terminated is dropped.
   */
  #watch(slot: Int32Array, seen: number): void {
    while (slot === this.#running) {
      const wait = Atomics.waitAsync(slot, 0, seen);
      if (wait.async) {
        wait.value.then(() => this.#watch(slot, seen));
        return;
      }
      // Already moved on ("not-equal"): time what runs now, then wait on that.
      seen = Atomics.load(slot, 0);
      this.#time(seen);
    }
  }

  /** Arms the watchdog for request `id` now running (0: the worker is idle). */
  #time(id: number): void {
    this.#stopWatchdog();
    if (id === 0) return;
    // Resolved or resent since: ids are never reused, so `id` is not this request any more.
    const running = this.#pending.find((p) => p.request.id === id);
    if (running === undefined) return;
    // Timed from when this thread saw the request start: a main thread too busy to look
    // only ever kills later, and one that sees the slot move on never kills a worker that
    // already answered.
    this.#watchdog = this.#clock.setTimeout(() => {
      this.#watchdog = undefined;
      if (Atomics.load(this.#running, 0) !== id) return;
      const request = running.request;
      const what = request.op === "call" ? `${request.name}.${request.fn}()` : request.op;
      this.#restart(`${what} ran past ${running.hardMs} ms`, id);
    }, running.hardMs);
  }

  /** Kills the worker; the request `culprit` (0: none known) is answered "killed". */
  #restart(reason: string, culprit: number): void {
    const queued = this.#kill(culprit);
    if (this.#closed) return;
    this.#restarts++;
    this.#onRestart?.(reason);
    if (queued.length === 0) return;
    // After the replay of the history and the modules: in their order, as first sent.
    const worker = this.#ensureWorker();
    for (const pending of queued) {
      pending.resent = true;
      this.#pending.push(pending);
      worker.postMessage(pending.request);
    }
  }

  /**
   * Terminates the worker. Answers the culprit, and every request when closing, as killed;
   * returns the calls and loads that only waited behind the culprit, to be sent again (a
   * fresh worker replays the history and the unloads need nothing).
   */
  #kill(culprit = 0): Pending[] {
    this.#stopWatchdog();
    this.#worker?.terminate();
    this.#worker = undefined;
    const queued: Pending[] = [];
    for (const pending of this.#pending.splice(0)) {
      const { id, op } = pending.request;
      const again = !this.#closed && id !== culprit && pending.resent !== true &&
        (op === "call" || op === "load");
      if (again) queued.push(pending);
      else pending.resolve(undefined);
    }
    return queued;
  }

  #stopWatchdog(): void {
    this.#clock.clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }
}

function killed(hardMs: number): LoadOutcome & CallOutcome {
  return {
    ok: false,
    kind: "killed",
    message:
      `did not finish within ${hardMs} ms (a native built-in ignores the deadline): worker restarted`,
    durationMs: hardMs,
  };
}
