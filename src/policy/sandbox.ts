/**
 * One policy or plugin inside its own QuickJS runtime (its own wasm module instance): memory
 * limit, stack limit and a deadline interrupt per call. Data crosses as JSON strings only, and
 * the sandbox has no host I/O: the clock (`Date`, `ctx.now`) and randomness (`Math.random`,
 * `ctx.random`) come from the host per call, so a recorded run can be replayed exactly.
 *
 * QuickJS checks its interrupt between bytecodes, not inside native built-ins (a huge `sort`
 * or `join` runs to the end): the caller runs sandboxes in a Worker it can terminate
 * (sandbox_worker.ts).
 *
 * Real time, not the injected Clock (src/clock): this runs inside that Worker, where no
 * clock object can be passed, and its deadline and durations bound real CPU time.
 *
 * @module
 */

import variant from "@jitl/quickjs-singlefile-mjs-release-sync";
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten-core";
import {
  ERROR_DESCRIBE_BUDGET_MS,
  ERROR_MESSAGE_MAX_CHARS,
  LOG_LINE_MAX_CHARS,
  LOG_LINES_MAX,
} from "./constants.ts";
import { type Entries, PRELUDE } from "./_prelude.ts";

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
  /** Stack limit of the QuickJS runtime, in bytes. */
  readonly stackLimitBytes: number;
  /** Longest run of module evaluation or of one call. */
  readonly deadlineMs: number;
  /**
   * Longest answer of one call (result, state and logs as JSON, in UTF-16 code units) the host
   * reads; a longer one is refused as `invalid_result` without being copied out.
   */
  readonly outputMaxChars: number;
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
  /** Always false: tells a failure from a success. */
  readonly ok: false;
  /** What went wrong. */
  readonly kind: SandboxErrorKind;
  /** The error, as the log and /v1/policies show it. */
  readonly message: string;
  /** How long the call ran before it failed, in ms. */
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

/** What the host saw while the sandbox ran: the facts a failure is classified by. */
interface Watch {
  /** The deadline interrupt fired. */
  fired: boolean;
  /** Failed growths of the wasm memory so far (the memory limit reached). */
  readonly growFailuresBefore: number;
}

/** A QuickJS instance in its own capped memory, not yet running a module. */
export interface SandboxInstance {
  readonly wasm: QuickJSWASMModule;
  /** Failed growths of the instance's memory so far. */
  readonly growFailures: () => number;
}

/** The live parts of a sandbox. */
interface Parts {
  readonly runtime: QuickJSRuntime;
  readonly context: QuickJSContext;
  readonly entries: Entries;
  readonly limits: SandboxLimits;
  /** Failed growths of the sandbox's memory so far. */
  readonly growFailures: () => number;
}

/** A compiled policy or plugin module in its own QuickJS runtime. */
export class Sandbox {
  /** Names of the module's function exports. */
  readonly exports: readonly string[];
  readonly #parts: Parts;
  readonly #namespace: QuickJSHandle;
  #history: (n: number) => string = () => "[]";
  #disposed = false;

  private constructor(parts: Parts, namespace: QuickJSHandle, exports: readonly string[]) {
    this.#parts = parts;
    this.#namespace = namespace;
    this.exports = exports;
  }

  /**
   * Compiles an ES module in a fresh runtime and evaluates its top level.
   *
   * @param fileName Name shown in stack traces.
   * @param source The module's text.
   * @param limits Memory, stack, deadline and output bounds.
   * @returns The sandbox, or why the module could not load.
   */
  static async create(
    fileName: string,
    source: string,
    limits: SandboxLimits,
  ): Promise<Sandbox | SandboxFailure> {
    return Sandbox.load(await Sandbox.instantiate(limits), { fileName, source, limits });
  }

  /**
   * A fresh QuickJS instance with its own capped memory, for {@linkcode Sandbox.load}: the
   * asynchronous half of {@linkcode Sandbox.create}, which runs none of the module's code.
   *
   * @param limits The memory cap of the instance.
   * @returns The instance, used by one load only.
   */
  static async instantiate(limits: SandboxLimits): Promise<SandboxInstance> {
    // A module instance per sandbox, with its own capped memory: a corrupted or exhausted
    // heap stays in its own memory. QuickJS's own malloc limit cannot be relied on for this
    // build (under emscripten it does not count allocation sizes, so a growing array or
    // string passed it and grew the worker by gigabytes); a maximum on the memory does, and
    // a growth it refuses is the host's own evidence that the sandbox ran out of memory.
    const maximum = Math.max(
      INITIAL_PAGES + 64,
      Math.floor(limits.memoryLimitBytes / WASM_PAGE_BYTES),
    );
    const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum });
    const growFailures = countGrowFailures(memory);
    // Each sandbox its own instance and memory, all of one compiled module (read-only code).
    const wasmModule = await compiledQuickJS();
    if (wasmModule === undefined) compiles++;
    const wasm = await newQuickJSWASMModuleFromVariant(
      newVariant(variant, wasmModule ? { wasmMemory: memory, wasmModule } : { wasmMemory: memory }),
    );
    return { wasm, growFailures };
  }

  /**
   * Compiles an ES module in the fresh `instance` and evaluates its top level, synchronously:
   * the half of {@linkcode Sandbox.create} that runs the module's code, which a caller can
   * bound as a whole (src/policy/run_guarded.ts).
   *
   * @param instance From {@linkcode Sandbox.instantiate}, not used before.
   * @param module The module: `fileName`, the name shown in stack traces; `source`, its text;
   * `limits`, the memory, stack, deadline and output bounds.
   * @returns The sandbox, or why the module could not load.
   */
  static load(
    instance: SandboxInstance,
    { fileName, source, limits }: {
      readonly fileName: string;
      readonly source: string;
      readonly limits: SandboxLimits;
    },
  ): Sandbox | SandboxFailure {
    const started = performance.now();
    const fail = (kind: SandboxErrorKind, message: string): SandboxFailure => ({
      ok: false,
      kind: kind === "runtime" ? "compile" : kind,
      message,
      durationMs: performance.now() - started,
    });
    const { wasm, growFailures } = instance;
    const runtime = wasm.newRuntime();
    runtime.setMaxStackSize(limits.stackLimitBytes);
    const context = runtime.newContext();
    let history: (n: number) => string = () => "[]";
    context.newFunction("__hopdHistory", (n) => context.newString(history(context.getNumber(n))))
      .consume((fn) => context.setProp(context.global, "__hopdHistory", fn));
    // Taken before any of the module's code runs: the host calls these by handle only.
    const entries = context.unwrapResult(context.evalCode(PRELUDE, "prelude.js")).consume(
      (object): Entries => ({
        call: context.getProp(object, "call"),
        seedRing: context.getProp(object, "seedRing"),
        exportsOf: context.getProp(object, "exportsOf"),
        describe: context.getProp(object, "describe"),
      }),
    );
    const parts: Parts = { runtime, context, entries, limits, growFailures };

    const watch = arm(parts, limits.deadlineMs);
    const evaluated = context.evalCode(source, fileName, { type: "module", strict: true });
    runtime.removeInterruptHandler();
    if (evaluated.error !== undefined) {
      const failure = classify(parts, evaluated.error, watch);
      release(parts);
      return fail(failure.kind, failure.message);
    }
    const promise = evaluated.value;
    const state = context.getPromiseState(promise);
    // A settled module evaluation is a promise; its namespace is a separate handle.
    if (state.type !== "fulfilled" || state.value !== promise) promise.dispose();
    if (state.type !== "fulfilled") {
      const failure = state.type === "rejected"
        ? classify(parts, state.error, watch)
        : { kind: "compile" as const, message: "top-level await is not supported" };
      release(parts);
      return fail(failure.kind, failure.message);
    }
    const namespace = state.value;
    arm(parts, limits.deadlineMs);
    const listed = context.callFunction(entries.exportsOf, context.undefined, namespace);
    runtime.removeInterruptHandler();
    const exports = listed.error === undefined
      ? listed.value.consume((h) => parseBounded(context, h, limits.outputMaxChars))
      : listed.error.consume(() => undefined);
    if (!Array.isArray(exports) || !exports.every((name) => typeof name === "string")) {
      namespace.dispose();
      release(parts);
      return fail("compile", "the module's exports could not be listed");
    }
    const sandbox = new Sandbox(parts, namespace, exports);
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
    const parts = this.#parts;
    const { context, runtime } = parts;
    const started = performance.now();
    if (input.history !== "own") this.#history = input.history;
    const watch = arm(parts, parts.limits.deadlineMs);
    const args = [
      this.#namespace,
      context.newString(input.fn),
      context.newString(input.argsJson),
      context.newString(input.stateJson),
      context.newNumber(input.nowMs),
      context.newNumber(input.seed),
      input.history === "own" ? context.true : context.false,
    ];
    const result = context.callFunction(parts.entries.call, context.undefined, ...args);
    for (const handle of args.slice(1, 6)) handle.dispose();
    runtime.removeInterruptHandler();
    if (result.error !== undefined) {
      const { kind, message } = classify(parts, result.error, watch);
      return { ok: false, kind, message, durationMs: performance.now() - started };
    }
    const answer = result.value.consume((h) => readAnswer(parts, input.fn, h));
    const durationMs = performance.now() - started;
    return "problem" in answer
      ? { ok: false, kind: "invalid_result", message: answer.problem, durationMs }
      : { ok: true, ...answer, durationMs };
  }

  /**
   * Fills the sandbox's own history ring (a fresh sandbox joining a running engine).
   *
   * @param json JSON array of snapshots, newest first.
   * @param max Snapshots the ring keeps.
   */
  seedHistory(json: string, max: number): void {
    const { context, runtime, entries, limits } = this.#parts;
    const args = [context.newString(json), context.newNumber(max)];
    arm(this.#parts, limits.deadlineMs);
    const result = context.callFunction(entries.seedRing, context.undefined, ...args);
    runtime.removeInterruptHandler();
    for (const handle of args) handle.dispose();
    if (result.error !== undefined) result.error.dispose();
    else result.value.dispose();
  }

  /** Frees the runtime. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#namespace.dispose();
    release(this.#parts);
  }
}

function release(parts: Parts): void {
  for (const handle of Object.values(parts.entries)) handle.dispose();
  parts.context.dispose();
  parts.runtime.dispose();
}

let compiled: Promise<WebAssembly.Module | undefined> | undefined;
let compiles = 0;

/**
 * Times this thread compiled the QuickJS build: 1 once the first sandbox was made, whatever
 * the number of sandboxes since (more if the compiled module could not be shared).
 */
export function quickJSCompiles(): number {
  return compiles;
}

/**
 * The QuickJS build compiled once for the thread, shared by every later sandbox. Left to
 * itself the build's glue decodes the wasm bytes embedded in its source and compiles them
 * again for each instance, and keeps the 580 KB of bytes alive with the instance (0.4 MB of
 * RSS per sandbox, bench/idle_memory.ts). The glue has no way out for the bytes or the
 * module, so a throwaway instance is made once with `WebAssembly.instantiate` watched to
 * take the module it compiled. Undefined when that no longer yields exactly one module (an
 * upgrade of the build): sandboxes then compile their own, and `sandbox_test.ts` fails.
 */
function compiledQuickJS(): Promise<WebAssembly.Module | undefined> {
  compiled ??= (async () => {
    const instantiate = WebAssembly.instantiate;
    const modules: WebAssembly.Module[] = [];
    const watched = async (...args: unknown[]) => {
      const result: unknown = await Reflect.apply(instantiate, WebAssembly, args);
      if (typeof result === "object" && result !== null && "module" in result) {
        modules.push(result.module as WebAssembly.Module);
      }
      return result;
    };
    Object.defineProperty(WebAssembly, "instantiate", { value: watched, configurable: true });
    try {
      const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: INITIAL_PAGES });
      await newQuickJSWASMModuleFromVariant(newVariant(variant, { wasmMemory: memory }));
    } finally {
      Object.defineProperty(WebAssembly, "instantiate", { value: instantiate, configurable: true });
    }
    compiles++;
    return modules.length === 1 ? modules[0] : undefined;
  })();
  return compiled;
}

/** Counts the growths of `memory` that failed (the wasm engine refused: the limit is reached). */
function countGrowFailures(memory: WebAssembly.Memory): () => number {
  let failures = 0;
  const grow = memory.grow.bind(memory);
  // Emscripten grows the memory it was given through this method (emscripten_resize_heap);
  // the memory bomb tests fail if an upgrade stops doing so.
  Object.defineProperty(memory, "grow", {
    value: (delta: number) => {
      try {
        return grow(delta);
      } catch (error) {
        failures++;
        throw error;
      }
    },
  });
  return () => failures;
}

/** Arms the deadline interrupt and notes what a failure will be judged by. */
function arm(parts: Parts, budgetMs: number): Watch {
  // Monotonic and finer than Date.now(): a call never stops short of its budget.
  const deadline = performance.now() + budgetMs;
  const watch = { fired: false, growFailuresBefore: parts.growFailures() };
  parts.runtime.setInterruptHandler(() => {
    if (performance.now() < deadline) return false;
    watch.fired = true;
    return true;
  });
  return watch;
}

/**
 * Classifies a failed load or call by what the host saw, never by what the thrown value
 * says of itself (a module can throw `{name: "InternalError", message: "out of memory"}`):
 * the deadline fired → timeout; the memory could not grow → memory; else a runtime error,
 * described by the prelude under a short deadline of its own and cut to a bounded length.
 * Consumes `error`.
 */
function classify(
  parts: Parts,
  error: QuickJSHandle,
  watch: Watch,
): { kind: SandboxErrorKind; message: string } {
  if (watch.fired) {
    error.dispose();
    return { kind: "timeout", message: "interrupted at its deadline" };
  }
  if (parts.growFailures() > watch.growFailuresBefore) {
    error.dispose();
    return { kind: "memory", message: "out of memory (policy.memory_limit)" };
  }
  const { runtime, context } = parts;
  arm(parts, ERROR_DESCRIBE_BUDGET_MS);
  const described = context.callFunction(parts.entries.describe, context.undefined, error);
  runtime.removeInterruptHandler();
  error.dispose();
  const message = described.error === undefined
    ? described.value.consume((h) => boundedString(context, h, ERROR_MESSAGE_MAX_CHARS))
    : described.error.consume(() => undefined);
  return { kind: "runtime", message: message ?? "the thrown value could not be read" };
}

/** Reads the call wrapper's answer, bounded and checked: result, state and logs. */
function readAnswer(
  parts: Parts,
  fn: string,
  handle: QuickJSHandle,
): { result: unknown; state: unknown; logs: string[] } | { problem: string } {
  const max = parts.limits.outputMaxChars;
  const length = stringLength(parts.context, handle);
  if (length === undefined) return { problem: `${fn}() answered the host something not JSON` };
  if (length > max) {
    return {
      problem: `${fn}() returned ${length} characters of result, state and logs as JSON, ` +
        `above the ${max} the host accepts (policy.state_max_size and the result's own bounds)`,
    };
  }
  const tuple = parseBounded(parts.context, handle, max);
  if (!Array.isArray(tuple) || tuple.length !== 3 || !Array.isArray(tuple[2])) {
    return { problem: `${fn}() answered the host a malformed result` };
  }
  const logs = (tuple[2] as unknown[]).slice(0, LOG_LINES_MAX).map((line) =>
    (typeof line === "string" ? line : JSON.stringify(line) ?? String(line))
      .slice(0, LOG_LINE_MAX_CHARS)
  );
  return { result: tuple[0], state: tuple[1], logs };
}

/** The length of a string handle without copying it; undefined when it is not a string. */
function stringLength(context: QuickJSContext, handle: QuickJSHandle): number | undefined {
  if (context.typeof(handle) !== "string") return undefined;
  // A primitive string's length is its own: no getter of the module's can answer instead.
  return context.getProp(handle, "length").consume((length) => context.getNumber(length));
}

/** A string handle's text when at most `max` characters, else undefined (never copied). */
function boundedString(
  context: QuickJSContext,
  handle: QuickJSHandle,
  max: number,
): string | undefined {
  const length = stringLength(context, handle);
  return length === undefined || length > max ? undefined : context.getString(handle);
}

/** A JSON string handle parsed on the host when at most `max` characters, else undefined. */
function parseBounded(context: QuickJSContext, handle: QuickJSHandle, max: number): unknown {
  const text = boundedString(context, handle, max);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
