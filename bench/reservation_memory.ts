// Where hopd's RSS per held reservation goes (issue 3): hopd (limits and policy engine off,
// as in bench/relay_vs_stock.ts) ramps to each step in workers of 2,500 stock js-libp2p
// clients, one worker at a time; then RSS is sampled every 15 s for 120 s, and finally split
// into V8 heap, external memory and the rest, before and after a forced full GC (inspector
// `HeapProfiler.collectGarbage`). Per reservation = (value − idle value) / reservations.
//
//   deno run -A bench/reservation_memory.ts [--steps 1000,5000,10000] [--hopd-deno-flag=…]
//
// Prints text lines and one JSON document at the end.

import { startHopd, startWorker } from "./relay_vs_stock/_children.ts";
import type { LineChild } from "./relay_vs_stock/_children.ts";
import { freePort, inspect } from "./relay_vs_stock/_inspector.ts";
import { holdAndMeasure, memory } from "./relay_vs_stock/_memory.ts";

const stepsArg = Deno.args.indexOf("--steps");
const steps = (stepsArg >= 0 ? Deno.args[stepsArg + 1]! : "1000,5000,10000").split(",")
  .map(Number);
const hopdDenoFlags = Deno.args.filter((a) => a.startsWith("--hopd-deno-flag="))
  .map((a) => a.slice("--hopd-deno-flag=".length));
const CLIENTS_PER_WORKER = 2_500;
const HOLD_MS = 120_000;
const SAMPLE_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const port = freePort();
const relay = await startHopd([`--inspect=127.0.0.1:${port}`, ...hopdDenoFlags]);
const workers: LineChild[] = [];
const report = [];
try {
  await sleep(2_000);
  await inspect(port, "HeapProfiler.collectGarbage");
  const idle = await memory(relay.pid, port);
  console.log(`idle: RSS ${(idle.rssKib / 1024).toFixed(1)} MiB`);
  let held = 0;
  for (const n of steps) {
    while (held < n) {
      const clients = Math.min(CLIENTS_PER_WORKER, n - held);
      const worker = startWorker("reserve", relay.tcpAddr, String(clients), "20");
      workers.push(worker);
      const done = await worker.next((m) => m.done === true, 600_000);
      held += Number(done.reserved);
      if (Number(done.failed) > 0) throw new Error(`${done.failed} reservations failed`);
    }
    const measured = await holdAndMeasure({
      pid: relay.pid,
      port,
      base: idle,
      n,
      item: "reservation",
      holdMs: HOLD_MS,
      sampleMs: SAMPLE_MS,
    });
    const { samples, beforeGc, afterGc } = measured;
    report.push({ reservations: n, rssPerReservationKibSamples: samples, beforeGc, afterGc });
  }
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await relay.stop();
}
console.log(JSON.stringify({ bench: "reservation_memory", date: new Date(), steps: report }));
