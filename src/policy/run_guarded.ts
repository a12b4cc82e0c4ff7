/**
 * Runs a synchronous function with a hard time limit on the caller's own thread: past the limit,
 * V8 terminates the JavaScript and WebAssembly running (the way `node:vm`'s `timeout` option
 * stops a script, from a watchdog thread), the caller gets `{ ok: false }` and its isolate goes
 * on. This is what stops a sandbox stuck inside one of QuickJS's native built-ins, where its
 * own interrupt never fires (`Array(2 ** 31).join("")`, `Array.prototype.indexOf` over an
 * array-like of length 2^53 − 1: src/policy/run_guarded_test.ts), without a worker thread.
 *
 * Whatever the function was doing is abandoned mid-way: a QuickJS instance stopped this way
 * must never be called again, not even to free it (its heap may be half-updated); its
 * WebAssembly memory goes with its last reference.
 *
 * When the runtime stops giving the timeout (a Deno upgrade), `run_guarded_test.ts` fails.
 *
 * @example
 * ```ts
 * import { runGuarded } from "./run_guarded.ts";
 * const done = runGuarded(() => 1 + 1, 100);
 * // done: { ok: true, value: 2 }
 * ```
 *
 * @module
 */

import { createContext, Script } from "node:vm";

/** What a guarded run gave: its value, or nothing when it was terminated at its limit. */
export type Guarded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

// One context and one compiled script for every run: the script calls whatever function the
// run put in the slot.
const slot: { run: (() => unknown) | undefined } = { run: undefined };
const context = createContext(slot);
const script = new Script("run()");
/** How Deno's node:vm says a run was terminated at its timeout. */
const TIMED_OUT = /Script execution timed out/;

/**
 * Runs `fn` and stops it `limitMs` after the start, real time.
 *
 * @param fn The work, synchronous; what it throws is thrown on.
 * @param limitMs The hard limit, a positive whole number of milliseconds.
 * @returns `fn`'s value, or `{ ok: false }` when it was terminated at the limit.
 * @throws {RangeError} When `limitMs` is not a positive integer.
 */
export function runGuarded<T>(fn: () => T, limitMs: number): Guarded<T> {
  if (!Number.isInteger(limitMs) || limitMs <= 0) {
    throw new RangeError(`Cannot run guarded as the limit must be a positive integer: ${limitMs}`);
  }
  if (slot.run !== undefined) throw new Error("runGuarded() does not nest");
  slot.run = fn;
  try {
    return { ok: true, value: script.runInContext(context, { timeout: limitMs }) as T };
  } catch (error) {
    // Made in the script's context, so not an `Error` of this realm.
    const message = (error as { message?: unknown } | null)?.message;
    if (typeof message === "string" && TIMED_OUT.test(message)) return { ok: false };
    throw error;
  } finally {
    slot.run = undefined;
  }
}
