/**
 * The loaded policies (or plugins) of one directory: each file's active revision and its
 * sandbox, and what went wrong with the last attempt. A new revision is prepared in a fresh
 * sandbox beside the active one and swapped in only when it compiled and passed its
 * fixtures; any failure keeps the last good version running.
 *
 * @module
 */

import type { Clock } from "../clock/mod.ts";
import { basename, join } from "node:path";
import { getLogger } from "@logtape/logtape";
import type { PolicyMetrics } from "./metrics.ts";
import { type CaseResult, type ModuleKind, type Prepared, prepareModule } from "./prepare.ts";
import type { SandboxLimits } from "./sandbox.ts";
import type { SandboxRunner } from "./sandbox_host.ts";
import type { Verdict } from "./types.ts";

const log = getLogger(["hopd", "policy"]);

/** One policy or plugin file, as /v1/policies shows it. */
export interface ModuleEntry {
  /** The file name without `.js`. */
  readonly name: string;
  /** A policy or a plugin. */
  readonly kind: ModuleKind;
  /** The file's path. */
  readonly file: string;
  /** sha256 of the active source ("" when no revision ever loaded). */
  revision: string;
  /** Sandbox of the active revision. */
  sandbox?: string;
  /** The functions the active revision exports. */
  exports: readonly string[];
  /** Active (running), failed (last load failed, nothing runs) or retired (file removed). */
  state: "active" | "failed" | "retired";
  /** The last load or evaluation error (cleared by a good evaluation or load). */
  lastError?: string;
  /** The kind of that error (compile, runtime, timeout, memory, …). */
  lastErrorKind?: string;
  /** The fixture results of the last load attempt. */
  cases: readonly CaseResult[];
  /** The last verdict (policies only). */
  lastVerdict?: Verdict;
  /** The reasons of the last verdict. */
  lastReasons?: readonly string[];
  /** When it last ran, ISO 8601. */
  lastEvaluatedAt?: string;
  /** How long its last run took, in ms. */
  lastDurationMs?: number;
  /** Runs since the active revision loaded. */
  evaluations: number;
  /** Failed runs since the active revision loaded. */
  errors: number;
  /** Worker kills in a row caused by this module (3 = quarantined until the file changes). */
  consecutiveKills: number;
  /** Hash of source and fixtures last attempted, to skip unchanged saves. */
  attempted?: string;
}

/** Kills in a row after which a module is unloaded until its file changes. */
export const QUARANTINE_AFTER_KILLS = 3;

/** Names of module files: `name.js`, never `name_test.js`. */
export function moduleNameOf(fileName: string): string | undefined {
  const match = /^([A-Za-z0-9][A-Za-z0-9_-]*)\.js$/.exec(basename(fileName));
  if (match === null) return undefined;
  const name = match[1]!;
  return name.endsWith("_test") ? name.slice(0, -"_test".length) : name;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A text file's content, or undefined when it does not exist (other errors throw). */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** What a {@linkcode ModuleTable} is built from. */
export interface ModuleTableInit {
  /** Policies or plugins. */
  readonly kind: ModuleKind;
  /** The directory it watches. */
  readonly dir: string;
  /** The worker the sandboxes live in. */
  readonly worker: SandboxRunner;
  readonly limits: SandboxLimits;
  readonly metrics: PolicyMetrics;
  /** The fixtures' `ctx.now` and the load time. */
  readonly clock: Clock;
}

/** The modules of one directory. */
export class ModuleTable {
  readonly #kind: ModuleKind;
  readonly #dir: string;
  readonly #worker: SandboxRunner;
  readonly #limits: SandboxLimits;
  readonly #metrics: PolicyMetrics;
  readonly #clock: Clock;
  readonly #entries = new Map<string, ModuleEntry>();
  #generation = 0;

  /** @param init What the table loads, from where, into which worker. */
  constructor(init: ModuleTableInit) {
    this.#kind = init.kind;
    this.#dir = init.dir;
    this.#worker = init.worker;
    this.#limits = init.limits;
    this.#metrics = init.metrics;
    this.#clock = init.clock;
  }

  get kind(): ModuleKind {
    return this.#kind;
  }

  /** Every module ever seen, by name. */
  list(): ModuleEntry[] {
    return [...this.#entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Modules with a loaded revision, by name. */
  active(): ModuleEntry[] {
    return this.list().filter((e) => e.sandbox !== undefined);
  }

  get(name: string): ModuleEntry | undefined {
    return this.#entries.get(name);
  }

  /**
   * Brings module `name` in line with its files: loads a new revision, retires a deleted
   * file, or does nothing when neither source nor fixtures changed.
   *
   * @returns What preparing gave, "retired", or "unchanged".
   */
  async sync(name: string): Promise<Prepared | "retired" | "unchanged"> {
    const file = join(this.#dir, `${name}.js`);
    let source: string | undefined;
    let fixtures: string | undefined;
    try {
      source = await readOptional(file);
      fixtures = await readOptional(join(this.#dir, `${name}_test.js`));
    } catch (error) {
      return this.#failed({ name, file, attempted: "" }, {
        ok: false,
        kind: "compile",
        message: `cannot read ${file}: ${(error as Error).message}`,
        cases: [],
      });
    }
    if (source === undefined) return await this.retire(name) ? "retired" : "unchanged";
    const attempted = await sha256Hex(`${source}\u0000${fixtures ?? ""}`);
    const entry = this.#entries.get(name);
    if (entry?.attempted === attempted && entry.state !== "retired") return "unchanged";
    const revision = await sha256Hex(source);
    const sandbox = `${this.#kind}:${name}#${++this.#generation}`;
    const prepared = await prepareModule(this.#worker, {
      kind: this.#kind,
      name,
      fileName: file,
      source,
      ...(fixtures === undefined ? {} : { fixturesSource: fixtures }),
      sandbox,
      limits: this.#limits,
      clock: this.#clock,
    });
    if (!prepared.ok) {
      return this.#failed({ name, file, attempted }, prepared);
    }
    const previous = entry?.sandbox;
    const next: ModuleEntry = {
      ...(entry ?? { evaluations: 0, errors: 0 }),
      name,
      kind: this.#kind,
      file,
      revision,
      sandbox,
      exports: prepared.exports,
      state: "active",
      cases: prepared.cases,
      consecutiveKills: 0,
      attempted,
    } as ModuleEntry;
    delete next.lastError;
    delete next.lastErrorKind;
    this.#entries.set(name, next);
    if (previous !== undefined) await this.#worker.unload(previous);
    this.#metrics.reloads.inc({ policy: name, result: "ok" });
    this.#updateLoaded();
    log.info("Loaded {kind} {name} revision {revision} in {ms} ms ({cases} fixture cases passed)", {
      kind: this.#kind,
      name,
      revision: revision.slice(0, 12),
      ms: Math.round(prepared.loadMs),
      cases: prepared.cases.length,
    });
    return prepared;
  }

  /** Unloads a module whose file is gone. @returns Whether there was one. */
  async retire(name: string): Promise<boolean> {
    const entry = this.#entries.get(name);
    if (entry === undefined || entry.state === "retired") return false;
    if (entry.sandbox !== undefined) await this.#worker.unload(entry.sandbox);
    delete entry.sandbox;
    delete entry.attempted;
    entry.state = "retired";
    this.#updateLoaded();
    log.info("Retired {kind} {name}: its file is gone", { kind: this.#kind, name });
    return true;
  }

  /** Unloads a module that keeps hanging its worker, until its file changes. */
  async quarantine(name: string, reason: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (entry?.sandbox === undefined) return;
    await this.#worker.unload(entry.sandbox);
    delete entry.sandbox;
    entry.state = "failed";
    entry.lastError = reason;
    entry.lastErrorKind = "killed";
    this.#updateLoaded();
    log.error("Quarantined {kind} {name} until its file changes: {reason}", {
      kind: this.#kind,
      name,
      reason,
    });
  }

  /** Records a revision that did not load; a loaded older revision stays in use. */
  #failed(
    { name, file, attempted }: { name: string; file: string; attempted: string },
    failure: Extract<Prepared, { ok: false }>,
  ): Prepared {
    const { kind, message, cases } = failure;
    const entry = this.#entries.get(name) ?? {
      name,
      kind: this.#kind,
      file,
      revision: "",
      exports: [],
      state: "failed" as const,
      cases: [],
      evaluations: 0,
      errors: 0,
      consecutiveKills: 0,
    };
    entry.lastError = message;
    entry.lastErrorKind = kind;
    entry.cases = cases;
    entry.attempted = attempted;
    if (entry.sandbox === undefined) entry.state = "failed";
    this.#entries.set(name, entry);
    this.#metrics.reloads.inc({ policy: name, result: "error" });
    this.#metrics.errors.inc({ policy: name, kind });
    log.error(
      entry.sandbox === undefined
        ? "Cannot load {kind} {name}: {message}"
        : "Cannot load {kind} {name}, keeping revision {revision}: {message}",
      { kind: this.#kind, name, message, revision: entry.revision.slice(0, 12) },
    );
    return failure;
  }

  #updateLoaded(): void {
    this.#metrics.loaded.set({ kind: this.#kind }, this.active().length);
  }
}
