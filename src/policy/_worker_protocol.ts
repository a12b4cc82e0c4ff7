/**
 * Messages between the engine (main thread) and its sandbox worker (_worker.ts).
 *
 * @module
 */

import type { CallOutcome, SandboxFailure, SandboxLimits } from "./sandbox.ts";

/**
 * Shared with the worker at start: the id of the request it is running (Int32 slot 0; 0 =
 * idle), which the worker sets and `Atomics.notify`s as each request starts and ends. The
 * engine's watchdog follows the worker's own account, so a busy main thread that is slow to
 * take a reply never passes for a hung worker.
 */
export const SHARED_BYTES = 4;

/** One call into a loaded sandbox (`SandboxWorker.call`). */
export interface SandboxCall {
  /** The sandbox's name, as loaded. */
  readonly name: string;
  /** The exported function to call (`evaluate`, a plugin hook). */
  readonly fn: string;
  /** Its arguments, as a JSON array. */
  readonly argsJson: string;
  /** The module's `ctx.state`, as JSON. */
  readonly stateJson: string;
  /** `ctx.now`: the host's time for this call, ms since the epoch. */
  readonly nowMs: number;
  /** Seed of `ctx.random`, so a replay draws the same numbers. */
  readonly seed: number;
  /** JSON of snapshots newest first for ctx.history(); absent = the worker's shared ring. */
  readonly history?: readonly string[];
}

/** A request to the worker; `id` pairs it with its reply. */
export type WorkerRequest =
  | {
    readonly id: 0;
    readonly op: "init";
    readonly shared: SharedArrayBuffer;
    /**
     * Trim the process's memory once the first loads settled (src/memory/): true for the
     * first worker only, not for one restarted after a kill, when the relay may be busy.
     */
    readonly trimWhenLoaded: boolean;
  }
  | {
    readonly id: number;
    readonly op: "load";
    readonly name: string;
    readonly fileName: string;
    readonly source: string;
    readonly limits: SandboxLimits;
  }
  | { readonly id: number; readonly op: "unload"; readonly name: string }
  | ({ readonly id: number; readonly op: "call" } & SandboxCall)
  | {
    readonly id: number;
    readonly op: "history";
    /** A snapshot's JSON to remember for ctx.history(). */
    readonly snapshotJson: string;
    readonly max: number;
  };

/** The worker's reply to a request. */
export type WorkerReply =
  | { readonly id: number; readonly op: "load"; readonly outcome: LoadOutcome }
  | { readonly id: number; readonly op: "call"; readonly outcome: CallOutcome }
  | { readonly id: number; readonly op: "unload" | "history" };

/** What loading a module gave. */
export type LoadOutcome =
  | { readonly ok: true; readonly exports: readonly string[]; readonly durationMs: number }
  | SandboxFailure;
