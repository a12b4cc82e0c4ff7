/**
 * Messages between the engine (main thread) and its sandbox worker (_worker.ts).
 *
 * @module
 */

import type { CallOutcome, SandboxFailure, SandboxLimits } from "./sandbox.ts";

/**
 * Shared with the worker at start: the id of the request it is running (Int32 slot 0; 0 =
 * idle) and when it started, in ms since the epoch (Float64 slot 1). The engine's watchdog
 * reads the worker's own account, so a busy main thread that is slow to take a reply never
 * passes for a hung worker.
 */
export const SHARED_BYTES = 16;

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
  | {
    readonly id: number;
    readonly op: "call";
    readonly name: string;
    readonly fn: string;
    readonly argsJson: string;
    readonly stateJson: string;
    readonly nowMs: number;
    readonly seed: number;
    /** JSON of snapshots newest first for ctx.history(); absent = the worker's shared ring. */
    readonly history?: readonly string[];
  }
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
