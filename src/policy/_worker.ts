/**
 * The sandbox worker: holds every loaded policy's QuickJS runtime and answers the engine's
 * requests one at a time. The engine terminates and restarts it when a call overruns (a
 * native built-in ignoring the deadline), so nothing here needs to defend against that.
 * It reads real time (performance.now for durations, a timer for compaction), not the
 * injected Clock: a Worker gets no clock object. The watchdog's time is the engine's.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { compactHeap, trimMemory } from "../memory/mod.ts";
import { Sandbox } from "./sandbox.ts";
import type { WorkerReply, WorkerRequest } from "./_worker_protocol.ts";

const sandboxes = new Map<string, Sandbox>();
const sources = new Map<string, WorkerRequest & { op: "load" }>();
// Snapshots as JSON, oldest first; shared by every sandbox's ctx.history().
const ring: string[] = [];
let ringMax = 60;

function historyOf(items: readonly string[], newestLast: boolean) {
  return (n: number): string => {
    const count = n < 0 ? items.length : Math.min(Math.floor(n), items.length);
    if (count <= 0) return "[]";
    const picked = newestLast ? items.slice(items.length - count).reverse() : items.slice(0, count);
    return `[${picked.join(",")}]`;
  };
}

async function handle(request: Exclude<WorkerRequest, { op: "init" }>): Promise<WorkerReply> {
  switch (request.op) {
    case "load": {
      const started = performance.now();
      const loaded = await Sandbox.create(request.fileName, request.source, request.limits);
      if (!(loaded instanceof Sandbox)) return { id: request.id, op: "load", outcome: loaded };
      loaded.seedHistory(historyOf(ring, true)(ringMax), ringMax);
      sandboxes.get(request.name)?.dispose();
      sandboxes.set(request.name, loaded);
      sources.set(request.name, request);
      return {
        id: request.id,
        op: "load",
        outcome: { ok: true, exports: loaded.exports, durationMs: performance.now() - started },
      };
    }
    case "unload":
      sandboxes.get(request.name)?.dispose();
      sandboxes.delete(request.name);
      sources.delete(request.name);
      return { id: request.id, op: "unload" };
    case "history":
      // The worker's ring only seeds sandboxes loaded later; each sandbox keeps its own.
      ring.push(request.snapshotJson);
      ringMax = request.max;
      if (ring.length > request.max) ring.splice(0, ring.length - request.max);
      return { id: request.id, op: "history" };
    case "call": {
      const sandbox = sandboxes.get(request.name);
      if (sandbox === undefined) {
        return {
          id: request.id,
          op: "call",
          outcome: { ok: false, kind: "runtime", message: "not loaded", durationMs: 0 },
        };
      }
      const outcome = sandbox.call({
        fn: request.fn,
        argsJson: request.argsJson,
        stateJson: request.stateJson,
        nowMs: request.nowMs,
        seed: request.seed,
        history: request.history === undefined ? "own" : historyOf(request.history, false),
      });
      if (!outcome.ok && outcome.kind === "memory") {
        // An exhausted heap may be left inconsistent: start this sandbox afresh.
        sandbox.dispose();
        sandboxes.delete(request.name);
        const load = sources.get(request.name)!;
        const fresh = await Sandbox.create(load.fileName, load.source, load.limits);
        if (fresh instanceof Sandbox) {
          fresh.seedHistory(historyOf(ring, true)(ringMax), ringMax);
          sandboxes.set(request.name, fresh);
        }
      }
      return { id: request.id, op: "call", outcome };
    }
  }
}

// One request at a time, in order, each marked in the shared slots while it runs: the
// engine's watchdog relies on both.
let running: Int32Array | undefined;

/** Notes request `id` (0: none) as running, and wakes the engine's watchdog. */
function mark(id: number): void {
  Atomics.store(running!, 0, id);
  Atomics.notify(running!, 0);
}
let queue = Promise.resolve();

// A load makes garbage (the module's compile, a revision's fixture sandboxes, the one it
// replaced): once loads and unloads stop coming, collect it and give the young generation
// back (src/memory/). Queued like a request, so it never runs inside one.
// The first time, in the first worker only (init's trimWhenLoaded), the native memory that
// compiling QuickJS freed is given back too, for the whole process (src/memory/): a trim
// collects every isolate, the main one included, so it is not repeated on a later reload or
// in a worker restarted after a kill, when the relay may be busy.
const COMPACT_AFTER_MS = 500;
let compactTimer: ReturnType<typeof setTimeout> | undefined;
let trimmed = true;
function compactSoon(): void {
  clearTimeout(compactTimer);
  compactTimer = setTimeout(() => {
    queue = queue.then(() => {
      compactHeap();
      if (trimmed) return;
      trimmed = true;
      trimMemory();
    });
  }, COMPACT_AFTER_MS);
}
self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.op === "init") {
    running = new Int32Array(request.shared, 0, 1);
    trimmed = !request.trimWhenLoaded;
    return;
  }
  queue = queue.then(async () => {
    try {
      mark(request.id);
      const reply = await handle(request);
      mark(0);
      self.postMessage(reply);
      if (request.op === "load" || request.op === "unload") compactSoon();
    } catch (error) {
      mark(0);
      const message = error instanceof Error ? error.message : String(error);
      const outcome = { ok: false as const, kind: "runtime" as const, message, durationMs: 0 };
      self.postMessage(
        request.op === "load" || request.op === "call"
          ? { id: request.id, op: request.op, outcome }
          : { id: request.id, op: request.op },
      );
    }
  });
};
