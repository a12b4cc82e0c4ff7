// Starts raw_client_worker.ts processes for bench/circuit_setup.ts and speaks JSON lines to
// them, with the LineChild interface of bench/relay_vs_stock/_children.ts (whose own spawner
// is private to that file and runs client_worker.ts only).

import { type LineChild, terminate } from "../relay_vs_stock/_children.ts";
import { jsonLines } from "../relay_vs_stock/_lines.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const WORKER = new URL("./raw_client_worker.ts", import.meta.url).pathname;

/** Starts `raw_client_worker.ts <mode> <relayAddr> <nodes>`. */
export function startRawWorker(mode: "targets" | "dialers", relayAddr: string, nodes: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", WORKER, mode, relayAddr, String(nodes)],
    cwd: REPO_ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const label = `raw ${mode} (pid ${child.pid})`;
  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  (async () => {
    for await (const message of jsonLines(child.stdout)) {
      queue.push(message);
      wake?.();
    }
  })().catch(() => {}).finally(() => {
    ended = true;
    wake?.();
  });
  const writer = child.stdin.getWriter();
  let stopped = false;
  const worker: LineChild = {
    pid: child.pid,
    async send(message) {
      await writer.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
    },
    async next(check, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const at = queue.findIndex(check);
        if (at >= 0) return queue.splice(at, 1)[0]!;
        if (ended) throw new Error(`${label} exited`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`${label} timed out`);
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
  return worker;
}
