// hopd for the policy benches: the program exactly as `deno task hopd run` runs it (the
// command line of bench/relay_vs_stock), with extra environment (HOPD_POLICY_* keys), its pid
// (for /proc CPU time) and every JSON log line with the time it arrived on stderr.

import { HOPD_LIMITS_OFF, hopdArgs, terminate } from "../relay_vs_stock/_children.ts";
import { jsonLines } from "../relay_vs_stock/_lines.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** One JSON log record and when it reached the bench. */
export interface LogLine {
  readonly record: Record<string, unknown>;
  /** performance.now() of the bench when the line arrived. */
  readonly arrivedAt: number;
}

/** A running hopd. */
export interface BenchHopd {
  readonly pid: number;
  readonly opsUrl: string;
  /** Plain TCP listen multiaddr with /p2p/<peer id>. */
  readonly tcpAddr: string;
  readonly dataDir: string;
  readonly logs: readonly LogLine[];
  /** Resolves with the first log line (from index `from`) matching `check`. */
  waitForLog(
    check: (record: Record<string, unknown>) => boolean,
    timeoutMs: number,
    from?: number,
  ): Promise<LogLine>;
  stop(): Promise<void>;
}

/** The properties object of a log record. */
export function propsOf(record: Record<string, unknown>): Record<string, unknown> {
  return (record.properties ?? {}) as Record<string, unknown>;
}

/**
 * Starts hopd with every limit off (as bench/relay_vs_stock does) plus `env`, and waits for
 * its listen addresses and ops port.
 *
 * @param env Extra environment, e.g. `{ HOPD_POLICY_DIR: dir, HOPD_POLICY_TICK: "1s" }`.
 */
export async function startBenchHopd(env: Record<string, string>): Promise<BenchHopd> {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-policy-bench-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: hopdArgs(dataDir),
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1", ...HOPD_LIMITS_OFF, ...env },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: LogLine[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  (async () => {
    for await (const record of jsonLines(child.stderr)) {
      logs.push({ record, arrivedAt: performance.now() });
      wake?.();
    }
  })().catch(() => {}).finally(() => {
    ended = true;
    wake?.();
  });
  const waitForLog = async (
    check: (record: Record<string, unknown>) => boolean,
    timeoutMs: number,
    from = 0,
  ): Promise<LogLine> => {
    const deadline = performance.now() + timeoutMs;
    for (let i = from;;) {
      for (; i < logs.length; i++) if (check(logs[i]!.record)) return logs[i]!;
      if (ended) throw new Error(`hopd (pid ${child.pid}) exited`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`hopd (pid ${child.pid}): no matching log line in time`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const stop = async () => {
    await terminate(child);
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  };
  try {
    const listening = await waitForLog((r) => Array.isArray(propsOf(r).addrs), 30_000);
    const ops = await waitForLog((r) => typeof propsOf(r).port === "number", 30_000);
    const addrs = propsOf(listening.record).addrs as string[];
    return {
      pid: child.pid,
      opsUrl: `http://127.0.0.1:${propsOf(ops.record).port}`,
      tcpAddr: addrs.find((a) => !a.includes("/ws"))!,
      dataDir,
      logs,
      waitForLog,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Copies the shipped policies (and their fixtures) from policies/ into `dir`, and `copies`
 * more of each under the names `<name>_copy<k>` (with their fixtures).
 *
 * @returns The policy names written.
 */
export async function writeShippedPolicies(dir: string, copies = 0): Promise<string[]> {
  const names: string[] = [];
  for (const name of await shippedPolicyNames()) {
    const source = await Deno.readTextFile(`${REPO_ROOT}policies/${name}.js`);
    const fixtures = await Deno.readTextFile(`${REPO_ROOT}policies/${name}_test.js`)
      .catch(() => undefined);
    for (let k = 0; k <= copies; k++) {
      const as = k === 0 ? name : `${name}_copy${k}`;
      await Deno.writeTextFile(`${dir}/${as}.js`, source);
      if (fixtures !== undefined) await Deno.writeTextFile(`${dir}/${as}_test.js`, fixtures);
      names.push(as);
    }
  }
  return names;
}

/** Names of the policies shipped in policies/ (not their fixtures). */
export async function shippedPolicyNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${REPO_ROOT}policies`)) {
    const match = /^([a-z0-9_]+)\.js$/.exec(entry.name);
    if (match !== null && !match[1]!.endsWith("_test")) names.push(match[1]!);
  }
  return names.sort();
}

/** The path of policies/<name>.js. */
export function shippedPolicyPath(name: string): string {
  return `${REPO_ROOT}policies/${name}.js`;
}

/** CPU seconds and state of one Deno worker thread. */
export interface WorkerThread {
  readonly cpuSeconds: number;
  /** Scheduler state from /proc: R running, S sleeping… */
  readonly state: string;
}

/**
 * The Deno worker threads ("worker-N") of a process, by thread id, from /proc/<pid>/task.
 *
 * @param pid A process id, or "self".
 */
export function workerThreadsOf(pid: number | "self"): Map<string, WorkerThread> {
  const out = new Map<string, WorkerThread>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (!comm.startsWith("worker-")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime + stime (fields 14 and 15) in clock ticks of 1/100 s (CLK_TCK here).
      out.set(task.name, {
        cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100,
        state: fields[0]!,
      });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
