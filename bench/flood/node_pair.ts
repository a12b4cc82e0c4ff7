// The Node side of bench/flood_throughput.ts's `--client node`: runs node_echo_pair.mjs (stock
// js-libp2p 3.3 clients under Node 20, as the probes ran them) as a child and asks it
// for a measurement over stdin, one JSON line each way.
import { jsonLines } from "../relay_vs_stock/_lines.ts";
import type { EchoPair } from "./echo_pair.ts";

const PAIR_SCRIPT = new URL("./node_echo_pair.mjs", import.meta.url).pathname;

/** A Node echo pair in its own process; `pid` is that process's (for its CPU time). */
export interface NodeEchoPair extends EchoPair {
  readonly pid: number;
  /** The last measurement's round-trip latency, ms. */
  readonly lastLatencyMs: { p50: number; p99: number };
}

/**
 * Starts the pair on `relayAddr` and waits until its circuit is up.
 *
 * @param relayAddr The relay's multiaddr (with /p2p/).
 * @param streamPerTrip A new echo stream for every round trip.
 * @param cpu `taskset -c` list for the child, when the bench pins.
 * @returns The pair.
 */
export async function openNodeEchoPair(
  relayAddr: string,
  streamPerTrip: boolean,
  cpu?: string,
): Promise<NodeEchoPair> {
  const args = [PAIR_SCRIPT, relayAddr, ...(streamPerTrip ? ["--stream-per-trip"] : [])];
  const child = new Deno.Command(cpu === undefined ? "node" : "taskset", {
    args: cpu === undefined ? args : ["-c", cpu, "node", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = jsonLines(child.stdout);
  const writer = child.stdin.getWriter();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the Node echo pair exited");
    return value;
  };
  if ((await next()).ready !== true) throw new Error("the Node echo pair did not start");
  const lastLatencyMs = { p50: NaN, p99: NaN };
  return {
    pid: child.pid,
    lastLatencyMs,
    async roundTripsPerSecond(seconds) {
      await writer.write(new TextEncoder().encode(`${seconds}\n`));
      const answer = await next();
      lastLatencyMs.p50 = Number(answer.p50Ms);
      lastLatencyMs.p99 = Number(answer.p99Ms);
      return Number(answer.roundTripsPerSecond);
    },
    async close() {
      await writer.write(new TextEncoder().encode("\n")).catch(() => {});
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}
