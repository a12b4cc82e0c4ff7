// Small probes of a running hopd for the end-to-end tests: Prometheus samples from /metrics,
// polling until a condition holds, picking a listen address by IP family, and JSON log lines.

/**
 * Scrapes `/metrics` and returns every sample line as `series → value`, where `series` is the
 * metric name with its labels exactly as exposed (`hopd_rate_limited_total{limiter="http",…}`).
 *
 * @param opsUrl Base URL of the ops server.
 * @returns The samples.
 */
export async function scrapeMetrics(opsUrl: string): Promise<Map<string, number>> {
  return parseMetrics(await (await fetch(`${opsUrl}/metrics`)).text());
}

/**
 * Parses a Prometheus text exposition into `series → value` (as {@linkcode scrapeMetrics}).
 *
 * @param text The /metrics body.
 * @returns The samples.
 */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/**
 * Sums the samples of `name` whose labels include every pair in `labels` (0 when none).
 *
 * @param samples From {@linkcode scrapeMetrics}.
 * @param name Metric name.
 * @param labels Label values the sample must carry.
 * @returns The sum.
 */
export function sampleSum(
  samples: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const [series, value] of samples) {
    if (series !== name && !series.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/**
 * Reads one metric (summed over the samples matching `labels`) from a running hopd.
 *
 * @param opsUrl Base URL of the ops server.
 * @param name Metric name.
 * @param labels Label values the samples must carry.
 * @returns The value, 0 when absent.
 */
export async function metric(
  opsUrl: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return sampleSum(await scrapeMetrics(opsUrl), name, labels);
}

/**
 * Polls `check` every 50 ms until it returns true or `timeoutMs` passes: the one polling
 * helper of the tests, for state that another process shows only when asked. Wait on an event
 * wherever there is one: a hopd log line (`HopdProcess.waitForLog`; with
 * `HOPD_LOG_LEVEL=debug` the policy engine logs each evaluation and each finished tick, and a
 * federation member each connection and each report that changes a member's load), the
 * relay's events (`untilRelay` in tests/relay_helpers.ts), a libp2p node's events
 * (`disconnectedFrom` in reserving_client.ts, `waitForCircuitAddr`), a child's exit status or
 * ready line.
 *
 * What is left to poll, and why (each call site says): a child hopd's /ready, computed when
 * asked and logged by no one; external programs with no event (Alertmanager, the stand-in
 * systemctl's detached hopd); /proc's descriptor counts; a socket flood's own counters while
 * it runs. What a reader task gathers from a child (a fake NOTIFY_SOCKET's datagrams, raw
 * stderr) or a callback reports (a reservation keeper's `onReserved`, a sink's chunks) is
 * waited on with {@linkcode Arrivals}.
 *
 * @returns Whether it held in time.
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The event counterpart of {@linkcode eventually} for what a reader task gathers from a
 * child (sd_notify datagrams, stderr chunks): the reader calls {@linkcode Arrivals.arrived}
 * after each arrival, and {@linkcode Arrivals.until} checks again on each one.
 */
export class Arrivals {
  #waiters = new Set<() => void>();

  /** Wakes every {@linkcode Arrivals.until} to check again. */
  arrived(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /**
   * Resolves once `check` holds, checking now and after each arrival.
   *
   * @param check The condition, over what was gathered.
   * @param timeoutMs Only bounds a silence: nothing is waited for when it holds.
   * @returns Whether it held before the bound.
   */
  async until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let silent = false;
    const bound = new Promise<void>((resolve) =>
      timer = setTimeout(() => {
        silent = true;
        resolve();
      }, timeoutMs)
    );
    try {
      while (!check() && !silent) {
        let wake = () => {};
        const next = new Promise<void>((resolve) => wake = resolve);
        this.#waiters.add(wake);
        await Promise.race([next, bound]);
        this.#waiters.delete(wake);
      }
      return check();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The first listen address of the given transport (tcp = plain TCP, ws = WebSockets). */
export function transportAddr(addrs: readonly string[], transport: "tcp" | "ws"): string {
  const addr = addrs.find((a) => transport === "ws" ? a.includes("/ws/") : !a.includes("/ws"));
  if (addr === undefined) throw new Error(`no ${transport} listener in ${addrs.join(", ")}`);
  return addr;
}

/**
 * Picks hopd's plain TCP listen address of one IP family.
 *
 * @param addrs hopd's full listen multiaddrs.
 * @param family "ip4" or "ip6".
 * @returns The address (with /p2p/<id>).
 * @throws {Error} When there is none.
 */
export function tcpAddr(addrs: readonly string[], family: "ip4" | "ip6"): string {
  const addr = addrs.find((a) => a.startsWith(`/${family}/`) && !a.includes("/ws"));
  if (addr === undefined) throw new Error(`no ${family} TCP listener in ${addrs.join(", ")}`);
  return addr;
}

/** `--listen` arguments for TCP on both 127.0.0.1 and ::1, port 0. */
export const DUAL_STACK_LISTEN = [
  "--listen",
  "/ip4/127.0.0.1/tcp/0",
  "--listen",
  "/ip6/::1/tcp/0",
];

/** The JSON log records of one logger category ("hopd.audit" → ["hopd", "audit"]). */
export function logsOf(
  logs: readonly Record<string, unknown>[],
  category: string,
): Record<string, unknown>[] {
  return logs.filter((record) => {
    const logger = record.logger ?? record.category;
    return (Array.isArray(logger) ? logger.join(".") : String(logger)) === category;
  });
}
