/**
 * The process's memory at rest. Starting hopd allocates far more than it keeps (module
 * evaluation, the config schema, the policies' fixture sandboxes), and V8 grows its young
 * generation to match: on a new node 20 MB of new space stayed committed, mostly empty, until
 * the next garbage collection that reduces memory, which an idle relay never triggers.
 * {@linkcode compactHeap} runs that collection once the start-up garbage is garbage and the node
 * at rest: 1 s after the start (src/daemon/start_order.ts; never before the first `/ready`,
 * which a full collection would hold back) and after the policy engine's first tick, and after the policy worker loaded its sandboxes (src/policy/_worker.ts). Under load V8 grows the young generation again as it needs, so
 * nothing is traded against throughput.
 *
 * Deno has no API for it; the way in is Node's (`node:v8` `setFlagsFromString("--expose-gc")`,
 * then a `gc` from a fresh `node:vm` context), which Deno implements. The flag is set only for
 * the moment the context is made. When either step is missing (a Deno upgrade), nothing is
 * compacted and {@linkcode compactHeap} answers false; `src/memory/mod_test.ts` fails then.
 *
 * What the collections free is not all given back: the start's freed native memory (module
 * loading, compiling the policies' QuickJS to machine code on the worker's threads) stays in
 * glibc's malloc arenas (bench/RESULTS.md, "memory at rest", says how much). {@linkcode trimMemory} asks Deno to give it back, once,
 * after the start: Deno's own `DENO_USR2_MEMORY_TRIM` (set in the environment at launch, as
 * `scripts/hopd.service` and the `deno task hopd|start` tasks do) makes a SIGUSR2 run
 * `malloc_trim(0)` and V8's low-memory notification in every isolate. Without the variable
 * nothing is sent (a SIGUSR2 that Deno does not handle would end the process).
 *
 * @example
 * ```ts
 * import { compactHeap } from "./mod.ts";
 * compactHeap(); // true: a full, memory-reducing collection ran
 * ```
 *
 * @module
 */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let gc: (() => void) | undefined | null;

/** V8's `gc()` for this isolate, or null when the runtime does not give it. */
function exposedGc(): (() => void) | null {
  if (gc !== undefined) return gc;
  gc = (globalThis as { gc?: () => void }).gc ?? null;
  if (gc !== null) return gc;
  try {
    setFlagsFromString("--expose-gc");
    const found = runInNewContext("typeof gc === 'function' ? gc : undefined");
    gc = typeof found === "function" ? found as () => void : null;
  } catch {
    gc = null;
  } finally {
    try {
      setFlagsFromString("--no-expose-gc");
    } catch {
      // The flag stays set: only contexts made later would see a gc() they never use.
    }
  }
  return gc;
}

/**
 * Runs a full garbage collection of this isolate (the caller's thread), which also shrinks
 * the young generation to what is live.
 *
 * @returns Whether it ran (false when the runtime gives no way to ask for it).
 */
export function compactHeap(): boolean {
  const collect = exposedGc();
  if (collect === null) return false;
  collect();
  return true;
}

/** Deno's switch for its SIGUSR2 memory trim, read at launch. */
export const MEMORY_TRIM_ENV = "DENO_USR2_MEMORY_TRIM";

/**
 * Gives the process's freed native memory back to the OS and has every isolate (the main
 * one and the policy workers) collect for low memory: Deno's SIGUSR2 trim, when the process
 * was launched with {@linkcode MEMORY_TRIM_ENV} set. A full collection of each heap: call it
 * at rest (after the start), not under load.
 *
 * @returns Whether the trim was asked for (false: the variable is not set).
 */
export function trimMemory(): boolean {
  if (!Deno.env.get(MEMORY_TRIM_ENV)) return false;
  Deno.kill(Deno.pid, "SIGUSR2");
  return true;
}
