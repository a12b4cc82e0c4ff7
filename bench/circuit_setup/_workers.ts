// Starts raw_client_worker.ts processes for bench/circuit_setup.ts, speaking JSON lines
// through lineChild() of bench/relay_vs_stock/_children.ts.

import { type LineChild, lineChild } from "../relay_vs_stock/_children.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const WORKER = new URL("./raw_client_worker.ts", import.meta.url).pathname;

/**
 * Starts `raw_client_worker.ts <mode> <relayAddr> <nodes> [...extra]`, under
 * `nice -n <nice>` when `nice` > 0 (`nice` execs, so the pid is the worker's).
 */
export function startRawWorker(
  mode: "targets" | "dialers" | "holders",
  relayAddr: string,
  nodes: number,
  nice = 0,
  ...extra: string[]
): LineChild {
  const args = ["run", "-A", "--quiet", WORKER, mode, relayAddr, String(nodes), ...extra];
  return lineChild(
    new Deno.Command(nice > 0 ? "nice" : Deno.execPath(), {
      args: nice > 0 ? ["-n", String(nice), Deno.execPath(), ...args] : args,
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }),
    `raw ${mode}`,
    "stdout",
  );
}
