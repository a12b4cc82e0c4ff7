/**
 * Runs the commands operators declared in `[policy] hooks` (runHook): argv without a shell,
 * a timeout, one run per hook at a time, output logged. A policy can only name a hook; it can
 * never choose the command or its arguments.
 *
 * Deno runs a program only with the run permission for it. The production permission set
 * (deno.json `permissions.hopd`, compiled into the binary) grants none; `scripts/compile.sh
 * --hooks-config FILE` adds exactly the configured commands (`hopd config allow-run`). A
 * hook this process may not run fails when asked, as a failure: the spawn is synchronous, so
 * the action is recorded as failed, never as executed, and `hopd_policy_hook_runs_total`
 * counts how each run ended.
 *
 * @module
 */

import { abortAfter, type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { PolicyMetrics } from "./metrics.ts";

const log = getLogger(["hopd", "policy", "hooks"]);

/** Characters of a hook's stdout and stderr kept in its log line. */
const HOOK_OUTPUT_MAX_CHARS = 2_000;

/** What a {@linkcode HookRunner} needs. */
export interface HookRunnerInit {
  /** Declared hooks: name → argv, the command an absolute path. */
  readonly hooks: Readonly<Record<string, readonly string[]>>;
  readonly timeoutMs: number;
  readonly metrics?: PolicyMetrics;
  /** Whether this process may run `command`. @default Deno's run permission, queried */
  readonly permitted?: (command: string) => boolean;
  /** The hooks' timeout runs on it. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/**
 * Whether this process holds the run permission for `command` (never prompts).
 *
 * @param command An absolute path.
 */
export function mayRun(command: string): boolean {
  return Deno.permissions.querySync({ name: "run", command }).state === "granted";
}

/**
 * The declared hooks this process may not run, each with the reason, for `hopd config
 * check` and the start log.
 *
 * @param hooks Declared hooks: name → argv.
 * @param permitted Whether a command may run. @default {@linkcode mayRun}
 * @returns One line per hook that cannot run.
 */
export function unrunnableHooks(
  hooks: Readonly<Record<string, readonly string[]>>,
  permitted: (command: string) => boolean = mayRun,
): string[] {
  return Object.entries(hooks).filter(([, argv]) => !permitted(argv[0]!)).map(([name, argv]) =>
    notPermitted(name, argv[0]!)
  );
}

function notPermitted(name: string, command: string): string {
  return `hook '${name}' cannot run: this hopd has no run permission for ${command} ` +
    "(build it with scripts/compile.sh --hooks-config FILE, or give deno --allow-run)";
}

/** Runs declared hooks. */
export class HookRunner {
  readonly #init: HookRunnerInit;
  readonly #permitted: (command: string) => boolean;
  readonly #running = new Set<string>();

  constructor(init: HookRunnerInit) {
    this.#init = init;
    this.#permitted = init.permitted ?? mayRun;
  }

  declared(name: string): boolean {
    return Object.hasOwn(this.#init.hooks, name);
  }

  running(name: string): boolean {
    return this.#running.has(name);
  }

  /**
   * Starts hook `name` with the policy's context in its environment.
   *
   * @returns Resolves with the exit code once it ends (-1 when it timed out).
   * @throws {Error} When it cannot start: no run permission for its command, or the spawn
   *   failed (a missing file). Counted and logged here; the caller records the failure.
   */
  run(name: string, env: Record<string, string>): Promise<number> {
    const argv = this.#init.hooks[name]!;
    const command = argv[0]!;
    if (!this.#permitted(command)) {
      this.#count(name, "not_permitted");
      throw new Error(notPermitted(name, command));
    }
    const timeout = abortAfter(this.#init.clock ?? SYSTEM_CLOCK, this.#init.timeoutMs);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(command, {
        args: argv.slice(1),
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: timeout.signal,
      }).spawn();
    } catch (error) {
      timeout.clear();
      this.#count(name, "spawn_error");
      const message = `hook '${name}' could not start ${command}: ${(error as Error).message}`;
      log.error("{message}", { name, message });
      throw new Error(message, { cause: error });
    }
    this.#running.add(name);
    return this.#wait(name, child).finally(() => {
      timeout.clear();
      this.#running.delete(name);
    });
  }

  async #wait(name: string, child: Deno.ChildProcess): Promise<number> {
    let output: Deno.CommandOutput;
    try {
      output = await child.output();
    } catch (error) {
      this.#count(name, "failed");
      log.error("Hook {name} failed: {message}", { name, message: (error as Error).message });
      return -1;
    }
    const { code, stdout, stderr, signal } = output;
    const decode = (bytes: Uint8Array) =>
      new TextDecoder().decode(bytes).slice(0, HOOK_OUTPUT_MAX_CHARS).trim();
    const fields = { name, code, stdout: decode(stdout), stderr: decode(stderr) };
    if (signal !== null) {
      this.#count(name, "timeout");
      log.error("Hook {name} was stopped by {signal} (timeout {timeoutMs} ms)", {
        ...fields,
        signal,
        timeoutMs: this.#init.timeoutMs,
      });
      return -1;
    }
    this.#count(name, code === 0 ? "ok" : "failed");
    if (code === 0) log.info("Hook {name} exited 0", fields);
    else log.error("Hook {name} exited {code}: {stderr}", fields);
    return code;
  }

  #count(name: string, result: string): void {
    this.#init.metrics?.hookRuns.inc({ hook: name, result });
  }
}
