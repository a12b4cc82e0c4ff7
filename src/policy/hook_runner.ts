// Runs the commands operators declared in `[policy] hooks` (runHook): argv without a shell,
// a timeout, one run per hook at a time, output logged. A policy can only name a hook; it can
// never choose the command or its arguments.

import { getLogger } from "@logtape/logtape";

const log = getLogger(["hopd", "policy", "hooks"]);

/** Runs declared hooks. */
export class HookRunner {
  readonly #hooks: Readonly<Record<string, readonly string[]>>;
  readonly #timeoutMs: number;
  readonly #running = new Set<string>();

  constructor(hooks: Readonly<Record<string, readonly string[]>>, timeoutMs: number) {
    this.#hooks = hooks;
    this.#timeoutMs = timeoutMs;
  }

  declared(name: string): boolean {
    return Object.hasOwn(this.#hooks, name);
  }

  running(name: string): boolean {
    return this.#running.has(name);
  }

  /**
   * Starts hook `name` in the background with the policy's context in its environment.
   *
   * @returns Resolves with the exit code (or -1 when it could not start or timed out).
   */
  run(name: string, env: Record<string, string>): Promise<number> {
    const argv = this.#hooks[name]!;
    this.#running.add(name);
    return this.#exec(name, argv, env).finally(() => this.#running.delete(name));
  }

  async #exec(name: string, argv: readonly string[], env: Record<string, string>) {
    try {
      const child = new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(this.#timeoutMs),
      }).spawn();
      const { code, stdout, stderr, signal } = await child.output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).slice(0, 2000).trim();
      const fields = { name, code, stdout: decode(stdout), stderr: decode(stderr) };
      if (signal !== null) {
        log.error("Hook {name} was stopped by {signal} (timeout {timeoutMs} ms)", {
          ...fields,
          signal,
          timeoutMs: this.#timeoutMs,
        });
        return -1;
      }
      if (code === 0) log.info("Hook {name} exited 0", fields);
      else log.error("Hook {name} exited {code}: {stderr}", fields);
      return code;
    } catch (error) {
      log.error("Hook {name} could not run: {message}", {
        name,
        message: (error as Error).message,
      });
      return -1;
    }
  }
}
