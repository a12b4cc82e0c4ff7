// One policy or plugin inside its own QuickJS runtime (its own wasm module instance): memory
// limit, stack limit and a deadline interrupt per call. Data crosses as JSON strings only, and
// the sandbox has no host I/O: the clock (`Date`, `ctx.now`) and randomness (`Math.random`,
// `ctx.random`) come from the host per call, so a recorded run can be replayed exactly.
//
// QuickJS checks its interrupt between bytecodes, not inside native built-ins (a huge `sort`
// or `join` runs to the end): the caller runs sandboxes in a Worker it can terminate
// (sandbox_worker.ts).

import variant from "@jitl/quickjs-singlefile-mjs-release-sync";
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  shouldInterruptAfterDeadline,
} from "quickjs-emscripten-core";

/** A WebAssembly page. */
const WASM_PAGE_BYTES = 65_536;
/** The QuickJS build starts with 16 MiB of linear memory. */
const INITIAL_PAGES = 256;
/** Smallest memory limit: the initial memory and 4 MiB of room. */
export const MIN_SANDBOX_MEMORY_BYTES = (INITIAL_PAGES + 64) * WASM_PAGE_BYTES;

/** Limits of one sandbox. */
export interface SandboxLimits {
  /**
   * Cap of the sandbox's WebAssembly linear memory (QuickJS's initial 16 MiB included),
   * enforced by the wasm engine: growth past it fails and QuickJS throws "out of memory".
   */
  readonly memoryLimitBytes: number;
  readonly stackLimitBytes: number;
  /** Longest run of module evaluation or of one call. */
  readonly deadlineMs: number;
}

/** Why a load or call failed (the `kind` label of `hopd_policy_errors_total`). */
export type SandboxErrorKind =
  | "compile"
  | "runtime"
  | "timeout"
  | "memory"
  | "killed"
  | "invalid_result"
  | "fixture";

/** A failed load or call. */
export interface SandboxFailure {
  readonly ok: false;
  readonly kind: SandboxErrorKind;
  readonly message: string;
  readonly durationMs: number;
}

/** What one call returned (plain data; the host validates it). */
export type CallOutcome =
  | {
    readonly ok: true;
    readonly result: unknown;
    /** The new `ctx.state`. */
    readonly state: unknown;
    readonly logs: readonly string[];
    readonly durationMs: number;
  }
  | SandboxFailure;

/** The inputs of one call besides its arguments. */
export interface CallInput {
  /** Export to call; it receives the parsed `argsJson` items, then `ctx`. */
  readonly fn: string;
  readonly argsJson: string;
  readonly stateJson: string;
  readonly nowMs: number;
  readonly seed: number;
  /**
   * Where `ctx.history(n)` reads: "own" = the sandbox's own ring of the snapshots it was
   * evaluated on (a real tick: the snapshot, `argsJson[0]`, is frozen and joins the ring);
   * or a function giving a JSON array of up to `n` snapshots, newest first (fixtures, CLI).
   */
  readonly history: "own" | ((n: number) => string);
}

// Runs once per context, before the module. It replaces the clock and randomness with the
// host's, captures console output (bounded), and defines the call wrapper the host invokes.
const PRELUDE = `(() => {
  const RealDate = Date;
  let now = 0;
  let seed = 1;
  const random = () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  class HostDate extends RealDate {
    constructor(...args) { if (args.length === 0) super(now); else super(...args); }
    static now() { return now; }
  }
  globalThis.Date = HostDate;
  Math.random = random;
  const logs = [];
  const text = (v) => typeof v === "string" ? v : (() => { try { return JSON.stringify(v); } catch { return String(v); } })();
  const write = (...args) => { if (logs.length < 20) logs.push(args.map(text).join(" ").slice(0, 1000)); };
  globalThis.console = { log: write, info: write, warn: write, error: write, debug: write };
  const hostHistory = globalThis.__hopdHistory;
  delete globalThis.__hopdHistory;
  // The snapshots this sandbox judged, newest first, frozen: ctx.history() hands them out
  // without copying or parsing (they are read-only, like the snapshot itself).
  let ring = [];
  let ringMax = 60;
  // Two levels (the snapshot and its sections): deep enough that ordinary mistakes throw,
  // cheap enough for every tick (a full recursive freeze cost more than the evaluation).
  const freeze = (value, depth = 2) => {
    if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
      Object.freeze(value);
      if (depth > 1) for (const key of Object.keys(value)) freeze(value[key], depth - 1);
    }
    return value;
  };
  globalThis.__hopdSeed = (json, max) => {
    ring = JSON.parse(json).slice(0, max);
    for (const snapshot of ring) freeze(snapshot);
    ringMax = max;
  };
  const count = (n, length) => n === undefined ? length : Math.max(0, Math.floor(Number(n)) || 0);
  globalThis.__hopdCall = (ns, fn, argsJson, stateJson, nowMs, seedValue, own) => {
    now = nowMs;
    seed = seedValue | 0;
    logs.length = 0;
    const f = ns[fn];
    if (typeof f !== "function") throw new TypeError("the module does not export a function named " + fn);
    const args = JSON.parse(argsJson);
    if (own) freeze(args[0]);
    const ctx = {
      now: nowMs,
      state: JSON.parse(stateJson),
      history: own
        ? (n) => ring.slice(0, count(n, ring.length))
        : (n) => JSON.parse(hostHistory(n === undefined ? -1 : Number(n))),
      random,
      log: write,
    };
    let result;
    try {
      result = f(...args, ctx);
    } finally {
      if (own) {
        ring.unshift(args[0]);
        if (ring.length > ringMax) ring.length = ringMax;
      }
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      throw new TypeError(fn + " must be synchronous: it returned a promise");
    }
    return JSON.stringify([result === undefined ? null : result, ctx.state === undefined ? null : ctx.state, logs]);
  };
})();`;

function classify(error: unknown): { kind: SandboxErrorKind; message: string } {
  const e = error as { name?: string; message?: string; stack?: string } | undefined;
  const message = `${e?.name ?? "Error"}: ${e?.message ?? String(error)}`;
  if (e?.name === "InternalError" && e.message === "interrupted") {
    return { kind: "timeout", message: "interrupted at its deadline" };
  }
  if (e?.name === "InternalError" && e.message === "out of memory") {
    return { kind: "memory", message: "out of memory (policy.memory_limit)" };
  }
  const where = e?.stack?.split("\n").find((line) => line.trim() !== "")?.trim();
  return { kind: "runtime", message: where === undefined ? message : `${message} (${where})` };
}

/** A compiled policy or plugin module in its own QuickJS runtime. */
export class Sandbox {
  /** Names of the module's function exports. */
  readonly exports: readonly string[];
  readonly #runtime: QuickJSRuntime;
  readonly #context: QuickJSContext;
  readonly #namespace: QuickJSHandle;
  readonly #call: QuickJSHandle;
  readonly #limits: SandboxLimits;
  #history: (n: number) => string = () => "[]";
  #disposed = false;

  private constructor(
    runtime: QuickJSRuntime,
    context: QuickJSContext,
    namespace: QuickJSHandle,
    limits: SandboxLimits,
  ) {
    this.#runtime = runtime;
    this.#context = context;
    this.#namespace = namespace;
    this.#limits = limits;
    this.#call = context.getProp(context.global, "__hopdCall");
    const lister = context.unwrapResult(
      context.evalCode("(ns) => Object.keys(ns).filter((k) => typeof ns[k] === 'function')"),
    );
    this.exports = lister.consume((fn) =>
      context.unwrapResult(context.callFunction(fn, context.undefined, namespace))
        .consume((names) => context.dump(names) as string[])
    );
  }

  /**
   * Compiles an ES module in a fresh runtime and evaluates its top level.
   *
   * @param fileName Name shown in stack traces.
   * @param source The module's text.
   * @param limits Memory, stack and deadline.
   * @returns The sandbox, or why the module could not load.
   */
  static async create(
    fileName: string,
    source: string,
    limits: SandboxLimits,
  ): Promise<Sandbox | SandboxFailure> {
    const started = performance.now();
    const fail = (kind: SandboxErrorKind, message: string): SandboxFailure => ({
      ok: false,
      kind,
      message,
      durationMs: performance.now() - started,
    });
    // A module instance per sandbox, with its own capped memory: a corrupted or exhausted
    // heap stays in its own memory. QuickJS's own malloc limit cannot be relied on for this
    // build (under emscripten it does not count allocation sizes, so a growing array or
    // string passed it and grew the worker by gigabytes); a maximum on the memory does.
    const maximum = Math.max(
      INITIAL_PAGES + 64,
      Math.floor(limits.memoryLimitBytes / WASM_PAGE_BYTES),
    );
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum });
    const wasm = await newQuickJSWASMModuleFromVariant(newVariant(variant, { wasmMemory: memory }));
    const runtime = wasm.newRuntime();
    runtime.setMemoryLimit(limits.memoryLimitBytes);
    runtime.setMaxStackSize(limits.stackLimitBytes);
    const context = runtime.newContext();
    const dispose = () => {
      context.dispose();
      runtime.dispose();
    };
    let history: (n: number) => string = () => "[]";
    context.newFunction("__hopdHistory", (n) => context.newString(history(context.getNumber(n))))
      .consume((fn) => context.setProp(context.global, "__hopdHistory", fn));
    context.unwrapResult(context.evalCode(PRELUDE, "prelude.js")).dispose();

    runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.deadlineMs));
    const evaluated = context.evalCode(source, fileName, { type: "module", strict: true });
    runtime.removeInterruptHandler();
    if (evaluated.error !== undefined) {
      const { kind, message } = classify(evaluated.error.consume((e) => context.dump(e)));
      dispose();
      return fail(kind === "runtime" ? "compile" : kind, message);
    }
    const promise = evaluated.value;
    const state = context.getPromiseState(promise);
    // A settled module evaluation is a promise; its namespace is a separate handle.
    if (state.type !== "fulfilled" || state.value !== promise) promise.dispose();
    if (state.type !== "fulfilled") {
      const reason = state.type === "rejected"
        ? classify(state.error.consume((e) => context.dump(e))).message
        : "top-level await is not supported";
      dispose();
      return fail("compile", reason);
    }
    const sandbox = new Sandbox(runtime, context, state.value, limits);
    sandbox.#history = history;
    history = (n) => sandbox.#history(n);
    return sandbox;
  }

  /**
   * Calls an exported function with JSON arguments and the host's clock, seed and history.
   *
   * @param input What to call and with what.
   * @returns The JSON result and new state, or why it failed.
   */
  call(input: CallInput): CallOutcome {
    if (this.#disposed) throw new Error("sandbox is disposed");
    const context = this.#context;
    const started = performance.now();
    if (input.history !== "own") this.#history = input.history;
    this.#runtime.setInterruptHandler(
      shouldInterruptAfterDeadline(Date.now() + this.#limits.deadlineMs),
    );
    const args = [
      this.#namespace,
      context.newString(input.fn),
      context.newString(input.argsJson),
      context.newString(input.stateJson),
      context.newNumber(input.nowMs),
      context.newNumber(input.seed),
      input.history === "own" ? context.true : context.false,
    ];
    const result = context.callFunction(this.#call, context.undefined, ...args);
    for (const handle of args.slice(1, 6)) handle.dispose();
    this.#runtime.removeInterruptHandler();
    const durationMs = performance.now() - started;
    if (result.error !== undefined) {
      const { kind, message } = classify(result.error.consume((e) => context.dump(e)));
      return { ok: false, kind, message, durationMs };
    }
    const text = result.value.consume((h) => context.getString(h));
    const [value, state, logs] = JSON.parse(text) as [unknown, unknown, string[]];
    return { ok: true, result: value, state, logs, durationMs };
  }

  /**
   * Fills the sandbox's own history ring (a fresh sandbox joining a running engine).
   *
   * @param json JSON array of snapshots, newest first.
   * @param max Snapshots the ring keeps.
   */
  seedHistory(json: string, max: number): void {
    const context = this.#context;
    const seed = context.getProp(context.global, "__hopdSeed");
    const args = [context.newString(json), context.newNumber(max)];
    const result = context.callFunction(seed, context.undefined, ...args);
    for (const handle of [seed, ...args]) handle.dispose();
    if (result.error !== undefined) result.error.dispose();
    else result.value.dispose();
  }

  /** Frees the runtime. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#call.dispose();
    this.#namespace.dispose();
    this.#context.dispose();
    this.#runtime.dispose();
  }
}
