// Spawns the real hopd program (the production permission set) and waits until it reports its
// ops address; shared by the end-to-end tests.

import { childEnv } from "./child_env.ts";

/** Root of the repository (where deno.json lives). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The environment variable naming a bundle of hopd (scripts/bundle.sh's `hopd.js`) for the
 * tests to run: the test command (scripts/test.sh) bundles hopd once and sets it. Not `HOPD_`:
 * hopd reads those as config.
 */
export const TEST_BUNDLE_ENV = "TEST_HOPD_BUNDLE";

/**
 * The bundle the test command made for this run, or `undefined` when the tests run without it
 * (`deno test FILE` by hand): then they run hopd from source.
 *
 * @throws {Error} When the variable names a file that is not there.
 */
export function testBundle(): string | undefined {
  const bundle = Deno.env.get(TEST_BUNDLE_ENV);
  if (bundle === undefined || bundle === "") return undefined;
  try {
    Deno.statSync(bundle);
  } catch {
    throw new Error(`${TEST_BUNDLE_ENV}=${bundle}: no such bundle (scripts/test.sh makes it)`);
  }
  return bundle;
}

/**
 * How a test runs hopd: deno's arguments before hopd's own, and the environment
 * `deno task hopd` adds. From source, as `deno task hopd` does (`deno run -P=hopd … main.ts`
 * when `denoFlags` add permissions to the production set), or from the test command's bundle
 * ({@linkcode testBundle}), the program the release binary embeds, with the same permission
 * set: a start from source builds and evaluates ~1,150 modules, about 0.6 CPU-s more than from
 * the bundle (bench/RESULTS.md, "test children from the bundle"), paid by every hopd every test starts.
 */
export function hopdCommand(denoFlags?: readonly string[]): {
  args: string[];
  env: Record<string, string>;
} {
  // deno.json's "hopd" task, which the bundle form and `deno run` spell out.
  const env = { DENO_USR2_MEMORY_TRIM: "1" };
  const bundle = testBundle();
  if (bundle !== undefined) {
    const config = `${REPO_ROOT}deno.json`;
    return {
      args: ["run", "-P=hopd", "--quiet", ...denoFlags ?? [], "--config", config, bundle],
      env,
    };
  }
  if (denoFlags === undefined) return { args: ["task", "--quiet", "hopd"], env: {} };
  return { args: ["run", "-P=hopd", "--quiet", ...denoFlags, "main.ts"], env };
}

/** A running hopd child process. */
export interface HopdProcess {
  /** Base URL of its ops server, e.g. http://127.0.0.1:39211 */
  readonly opsUrl: string;
  readonly peerId: string;
  /** Full listen multiaddrs, with /p2p/<peer id>. */
  readonly listenAddrs: readonly string[];
  readonly dataDir: string;
  /** JSON log records seen so far on stderr. */
  readonly logs: Record<string, unknown>[];
  /** Every stderr line seen so far, JSON or not. */
  readonly lines: readonly string[];
  /**
   * Resolves with the first JSON log record (seen so far or still to come) that `match`
   * accepts; rejects when hopd exits first or `timeoutMs` passes.
   */
  waitForLog(
    match: (record: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends a signal. */
  kill(signal?: Deno.Signal): void;
  /** Resolves with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** SIGTERM, then wait; SIGKILL if it has not exited in `timeoutMs`. */
  stop(timeoutMs?: number): Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode spawnHopd}. */
export interface SpawnHopdOptions {
  /** Extra arguments after `run`. */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Data dir; a temp dir by default. */
  dataDir?: string;
  /** Listen on TCP and WS on 127.0.0.1 port 0 (default true). */
  loopbackListeners?: boolean;
  /** How long to wait for the ops server. @default 20_000 */
  startTimeoutMs?: number;
  /**
   * Network namespace to run in (`ip netns exec`): then `opsUrl` and the listen addresses are
   * reachable only from inside it (tests/_helpers/netns.ts).
   */
  netns?: string;
  /** RLIMIT_NOFILE (soft and hard) to run hopd under, through `prlimit`; absent = inherited. */
  nofile?: number;
  /**
   * Deno permission flags added to the production set (`deno run -P=hopd <flags> main.ts`,
   * as `scripts/compile.sh` embeds them), e.g. `--allow-run=/path/hook`. @default none
   */
  denoFlags?: readonly string[];
}

/**
 * Runs `hopd run` ({@linkcode hopdCommand}) with loopback listeners on port 0, JSON logs and a temp data
 * dir, and resolves once the ops server is listening.
 */
export async function spawnHopd(options: SpawnHopdOptions = {}): Promise<HopdProcess> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "hopd-test-" });
  const listeners = (options.loopbackListeners ?? true)
    ? ["--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/tcp/0/ws"]
    : [];
  const hopd = hopdCommand(options.denoFlags);
  // `ip netns exec` and `prlimit` exec what follows, so the child's pid stays deno's own.
  const command = [
    ...(options.netns === undefined ? [] : ["ip", "netns", "exec", options.netns]),
    ...(options.nofile === undefined
      ? []
      : ["prlimit", `--nofile=${options.nofile}:${options.nofile}`]),
    Deno.execPath(),
    ...hopd.args,
    "run",
    "--http",
    "127.0.0.1:0",
    "--data-dir",
    dataDir,
    "--log-format",
    "json",
    ...listeners,
    ...(options.args ?? []),
  ];
  const child = new Deno.Command(command[0]!, {
    args: command.slice(1),
    cwd: REPO_ROOT,
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1", ...hopd.env, ...options.env }),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();

  const logs: Record<string, unknown>[] = [];
  const lines: string[] = [];
  const waiters = new Set<(record: Record<string, unknown>) => void>();
  const started = Promise.withResolvers<{ port: number; peerId: string; addrs: string[] }>();
  let port: number | undefined;
  let peerId: string | undefined;
  let addrs: string[] | undefined;
  const pump = (async () => {
    const decoder = child.stderr.pipeThrough(new TextDecoderStream());
    let buffer = "";
    for await (const chunk of decoder) {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line);
        } catch {
          continue;
        }
        logs.push(record);
        for (const waiter of waiters) waiter(record);
        const props = (record.properties ?? {}) as Record<string, unknown>;
        if (typeof props.peerId === "string" && String(record.message).startsWith("hopd ")) {
          peerId = props.peerId;
        }
        if (Array.isArray(props.addrs)) addrs = props.addrs as string[];
        if (typeof props.port === "number") port = props.port;
        if (port !== undefined && peerId !== undefined && addrs !== undefined) {
          started.resolve({ port, peerId, addrs });
        }
      }
    }
  })();
  const status = child.status.then(async (s) => {
    await pump.catch(() => {});
    return s;
  });
  status.then((s) =>
    started.reject(
      new Error(`hopd exited with code ${s.code} before it was up:\n${lines.join("\n")}`),
    )
  );
  const timeoutMs = options.startTimeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`hopd did not start within ${timeoutMs} ms:\n${lines.join("\n")}`)),
      timeoutMs,
    );
  });
  let info: { port: number; peerId: string; addrs: string[] };
  try {
    info = await Promise.race([started.promise, timeout]);
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await status;
    throw error;
  } finally {
    clearTimeout(timer);
  }

  const kill = (signal: Deno.Signal = "SIGTERM") => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
  };
  const waitForLog = (
    match: (record: Record<string, unknown>) => boolean,
    waitTimeoutMs = 20_000,
  ): Promise<Record<string, unknown>> => {
    const seen = logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    const waiter = (record: Record<string, unknown>) => {
      if (match(record)) resolve(record);
    };
    waiters.add(waiter);
    const timer = setTimeout(
      () => reject(new Error(`no such log line within ${waitTimeoutMs} ms:\n${lines.join("\n")}`)),
      waitTimeoutMs,
    );
    status.then(() => reject(new Error(`hopd exited first:\n${lines.join("\n")}`)));
    return promise.finally(() => {
      waiters.delete(waiter);
      clearTimeout(timer);
    });
  };
  return {
    opsUrl: `http://127.0.0.1:${info.port}`,
    peerId: info.peerId,
    listenAddrs: info.addrs,
    dataDir,
    logs,
    lines,
    waitForLog,
    kill,
    status,
    async stop(stopTimeoutMs = 10_000) {
      kill("SIGTERM");
      const killer = setTimeout(() => kill("SIGKILL"), stopTimeoutMs);
      try {
        return await status;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/**
 * Runs `hopd <args>` ({@linkcode hopdCommand}) to completion.
 *
 * @returns Exit code, stdout and stderr.
 */
export async function runHopdCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const hopd = hopdCommand();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...hopd.args, ...args],
    cwd: REPO_ROOT,
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1", ...hopd.env, ...env }),
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * Waits for `hopd`'s next log line (after those seen so far, counted when called) that
 * `matches` accepts: hopd's stderr, an event, instead of polling its HTTP API.
 */
export function nextLine(
  hopd: HopdProcess,
  matches: (record: Record<string, unknown>) => boolean,
  timeoutMs?: number,
): Promise<Record<string, unknown>> {
  let skip = hopd.logs.filter(matches).length;
  return hopd.waitForLog((record) => matches(record) && skip-- <= 0, timeoutMs);
}
