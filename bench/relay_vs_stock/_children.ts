// The processes the bench starts: hopd (exactly as `deno task hopd run` runs it), the stock
// relay (stock_relay.ts) and client workers (client_worker.ts), each spoken to in JSON lines.

import { jsonLines } from "./_lines.ts";
import { sampleValue, scrape } from "./_proc.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const HERE = new URL("./", import.meta.url).pathname;

/** A relay under test, in its own process. */
export interface RelayProcess {
  readonly name: "hopd" | "hopd_negotiated" | "hopd-base" | "hopd-bundled" | "stock" | "go";
  readonly pid: number;
  /** TCP listen multiaddr with /p2p/<peer id>. */
  readonly tcpAddr: string;
  /** hopd's /metrics URL; undefined for the other relays. */
  readonly metricsUrl: string | undefined;
  /** Bytes of V8 heap in use (hopd: nodejs_heap_size_used_bytes; stock: Deno.memoryUsage). */
  heapUsedBytes(): Promise<number>;
  stop(): Promise<void>;
}

/** A child speaking JSON lines: `next()` waits for the next message matching `check`. */
export interface LineChild {
  readonly pid: number;
  send(message: Record<string, unknown>): Promise<void>;
  next(check: (m: Record<string, unknown>) => boolean, timeoutMs: number): Promise<
    Record<string, unknown>
  >;
  stop(): Promise<void>;
}

/** Spawns `command` and speaks JSON lines with it (commands on stdin, reports on `source`). */
export function lineChild(
  command: Deno.Command,
  label: string,
  source: "stdout" | "stderr",
): LineChild {
  const child = command.spawn();
  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const stream = source === "stdout" ? child.stdout : child.stderr;
  (async () => {
    for await (const message of jsonLines(stream)) {
      queue.push(message);
      wake?.();
    }
  })().catch(() => {}).finally(() => {
    ended = true;
    wake?.();
  });
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  let stopped = false;
  return {
    pid: child.pid,
    async send(message) {
      await writer.write(encoder.encode(JSON.stringify(message) + "\n"));
    },
    async next(check, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const at = queue.findIndex(check);
        if (at >= 0) return queue.splice(at, 1)[0]!;
        if (ended) throw new Error(`${label} (pid ${child.pid}) exited`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`${label} (pid ${child.pid}) timed out`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await writer.close().catch(() => {});
      await terminate(child);
    },
  };
}

/**
 * Environment that turns hopd's limits off, to match the stock relay's: relay counts and
 * circuit limits, and the rate limiter's per-IP/peer/global rates ("0" = unlimited), which
 * would otherwise refuse a loopback bench (every client shares 127.0.0.1).
 */
export const HOPD_LIMITS_OFF: Record<string, string> = {
  HOPD_LIMITS_CONNECTIONS_PER_IP: "0",
  HOPD_LIMITS_CONNECTIONS_PER_SUBNET: "0",
  HOPD_LIMITS_CONNECTIONS_GLOBAL: "0",
  HOPD_LIMITS_RESERVATIONS_PER_PEER: "0",
  HOPD_LIMITS_RESERVATIONS_PER_IP: "0",
  HOPD_LIMITS_RESERVATIONS_GLOBAL: "0",
  HOPD_LIMITS_CIRCUITS_PER_PEER: "0",
  HOPD_LIMITS_CIRCUITS_GLOBAL: "0",
  HOPD_RELAY_CIRCUIT_DATA: "0",
  HOPD_RELAY_CIRCUIT_DURATION: "0",
  HOPD_RELAY_MAX_RESERVATIONS: "0",
  HOPD_RELAY_MAX_RESERVATIONS_PER_IP: "0",
  HOPD_RELAY_MAX_RESERVATIONS_PER_SUBNET: "0",
  HOPD_RELAY_MAX_CIRCUITS: "0",
  HOPD_RELAY_MAX_CIRCUITS_PER_PEER: "0",
  HOPD_CONNECTIONS_MAX_CONNECTIONS: "30000",
  // Every bench client dials from 127.0.0.1: the socket guard's per-IP and per-subnet bounds on
  // handshakes in flight would reset a ramp's connections.
  HOPD_CONNECTIONS_MAX_PENDING_INBOUND: "30000",
  HOPD_CONNECTIONS_MAX_PENDING_PER_IP: "30000",
  HOPD_CONNECTIONS_MAX_PENDING_PER_SUBNET: "30000",
};

/**
 * hopd's command line, as `deno task hopd run` would run it.
 *
 * @param denoFlags Extra Deno flags (profiling only, e.g. `--cpu-prof`).
 * @param http The ops server's HOST:PORT (port 0: a free one, reported in the log).
 * @param entry The program: main.ts, or a bundle of it (scripts/bundle.sh; then `denoFlags`
 *   must name the checkout's deno.json with `--config`).
 */
export function hopdArgs(
  dataDir: string,
  denoFlags: string[] = [],
  http = "127.0.0.1:0",
  entry = "main.ts",
): string[] {
  return [
    "run",
    "-P=hopd",
    "--quiet",
    ...denoFlags,
    entry,
    "run",
    "--http",
    http,
    "--data-dir",
    dataDir,
    "--log-format",
    "json",
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
    "--listen",
    "/ip4/127.0.0.1/tcp/0/ws",
  ];
}

/**
 * Starts hopd with its limits off and waits for its listen addresses and ops port.
 *
 * @param denoFlags Extra Deno flags (profiling only, e.g. `--cpu-prof`).
 * @param variant A name and environment for a second hopd configured otherwise (its env is
 *   added to the limits-off one), and optionally another checkout of hopd to run instead of
 *   this one (with its own node_modules): a baseline measured beside this one in one run;
 *   `entry` runs a bundle of the checkout (scripts/bundle.sh's hopd.js) instead of main.ts.
 */
export async function startHopd(
  denoFlags: string[] = [],
  variant: {
    name: "hopd" | "hopd_negotiated" | "hopd-base" | "hopd-bundled";
    env: Record<string, string>;
    checkout?: string;
    entry?: string;
  } = {
    name: "hopd",
    env: {},
  },
): Promise<RelayProcess> {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-bench-" });
  const child = lineChild(
    new Deno.Command(Deno.execPath(), {
      args: variant.entry === undefined ? hopdArgs(dataDir, denoFlags) : hopdArgs(
        dataDir,
        [...denoFlags, "--config", `${variant.checkout ?? REPO_ROOT}/deno.json`],
        "127.0.0.1:0",
        variant.entry,
      ),
      cwd: variant.checkout ?? REPO_ROOT,
      // The comparison is relay against relay: the policy engine (on by default, with the
      // shipped policies of the working directory) would add its worker's memory to the RSS
      // figures and could throttle mid-run.
      env: { NO_COLOR: "1", ...HOPD_LIMITS_OFF, HOPD_POLICY_ENABLED: "false", ...variant.env },
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }),
    "hopd",
    "stderr",
  );
  const props = (m: Record<string, unknown>) => (m.properties ?? {}) as Record<string, unknown>;
  const listening = await child.next((m) => Array.isArray(props(m).addrs), 30_000);
  const ops = await child.next((m) => typeof props(m).port === "number", 30_000);
  const addrs = props(listening).addrs as string[];
  const metricsUrl = `http://127.0.0.1:${props(ops).port}/metrics`;
  return {
    name: variant.name,
    pid: child.pid,
    tcpAddr: addrs.find((a) => !a.includes("/ws"))!,
    metricsUrl,
    async heapUsedBytes() {
      return sampleValue(await scrape(metricsUrl), "nodejs_heap_size_used_bytes");
    },
    async stop() {
      await child.stop();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Starts the stock relay and waits for its listen addresses.
 *
 * @param denoFlags Extra Deno flags (profiling only, e.g. `--cpu-prof`).
 */
export async function startStockRelay(denoFlags: string[] = []): Promise<RelayProcess> {
  const child = lineChild(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", ...denoFlags, `${HERE}stock_relay.ts`],
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }),
    "stock relay",
    "stdout",
  );
  const ready = await child.next((m) => m.ready === true, 30_000);
  const addrs = ready.addrs as string[];
  return {
    name: "stock",
    pid: child.pid,
    tcpAddr: addrs.find((a) => !a.includes("/ws"))!,
    metricsUrl: undefined,
    async heapUsedBytes() {
      await child.send({ heap: true });
      const reply = await child.next((m) => typeof m.heapUsedBytes === "number", 30_000);
      return Number(reply.heapUsedBytes);
    },
    stop: () => child.stop(),
  };
}

/** Starts a client worker (see client_worker.ts for the modes). */
export function startWorker(mode: string, relayAddr: string, ...args: string[]): LineChild {
  return lineChild(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        `${HERE}client_worker.ts`,
        mode,
        relayAddr,
        ...args,
      ],
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }),
    `worker ${mode}`,
    "stdout",
  );
}

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`; resolves at its exit. */
export async function terminate(child: Deno.ChildProcess, graceMs = 10_000): Promise<void> {
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, graceMs);
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
  clearTimeout(killer);
}
