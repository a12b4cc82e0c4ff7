// hopd's RSS per open circuit (issue 16, item 10: the memory that load explains, which
// policies/restart_on_memory.js subtracts before it calls anything a leak). hopd (limits and
// policy engine off, as in bench/relay_vs_stock.ts) relays between raw-hop clients of
// bench/circuit_setup/raw_client_worker.ts: 25 targets holding reservations and answering
// STOP, and dialer nodes that open circuits over their one connection each, echo 32 bytes
// through every circuit and keep it open. Per circuit = (value − value before any circuit,
// with the targets' reservations and every client connected) / circuits. At each step RSS is
// sampled every 10 s for 60 s (median), then split into V8 heap, external and the rest, before
// and after a forced full GC (inspector `HeapProfiler.collectGarbage`).
//
//   deno run -A bench/circuit_memory.ts [--steps 1000,4000] [--hold-seconds 60]
//
// The circuits carry no data while held: buffers of data in flight (at most the circuit's
// data limit per direction, relay.circuit_data) come on top.
//
// Prints text lines and one JSON document at the end.

import { numberArg } from "./_args.ts";
import { startRawWorker } from "./circuit_setup/_workers.ts";
import { type LineChild, startHopd } from "./relay_vs_stock/_children.ts";
import { freePort, inspect } from "./relay_vs_stock/_inspector.ts";
import { holdAndMeasure, memory } from "./relay_vs_stock/_memory.ts";

const stepsArg = Deno.args.indexOf("--steps");
const steps = (stepsArg >= 0 ? Deno.args[stepsArg + 1]! : "1000,4000").split(",").map(Number);
const HOLD_MS = numberArg("--hold-seconds", 60) * 1000;
const SAMPLE_MS = 10_000;
const TARGETS = 25;
const DIALER_PROCESSES = 2;
// hopd takes at most 1,024 hop streams per connection (src/relay/constants.ts).
const DIALERS_PER_PROCESS = Math.max(1, Math.ceil(Math.max(...steps) / 900 / DIALER_PROCESSES));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const port = freePort();
const relay = await startHopd([`--inspect=127.0.0.1:${port}`]);
const workers: LineChild[] = [];
const report = [];
const loadAtStart = Deno.loadavg();
try {
  const targets = startRawWorker("targets", relay.tcpAddr, TARGETS);
  workers.push(targets);
  const dialers = Array.from(
    { length: DIALER_PROCESSES },
    () => startRawWorker("dialers", relay.tcpAddr, DIALERS_PER_PROCESS),
  );
  workers.push(...dialers);
  const ready = await targets.next((m) => m.ready === true, 120_000);
  await Promise.all(dialers.map((d) => d.next((m) => m.ready === true, 60_000)));
  await sleep(2_000);
  await inspect(port, "HeapProfiler.collectGarbage");
  const base = await memory(relay.pid, port);
  console.log(
    `base (${TARGETS} reservations, ${TARGETS + DIALER_PROCESSES * DIALERS_PER_PROCESS} ` +
      `connections): RSS ${(base.rssKib / 1024).toFixed(1)} MiB`,
  );
  let open = 0;
  for (const n of steps) {
    const share = Math.ceil((n - open) / DIALER_PROCESSES);
    await Promise.all(
      dialers.map((d) => d.send({ hold: { circuits: share, targets: ready.peerIds } })),
    );
    const held = await Promise.all(dialers.map((d) => d.next((m) => m.held === true, 600_000)));
    const failed = held.reduce((sum, h) => sum + Number(h.failed), 0);
    if (failed > 0) throw new Error(`${failed} circuits failed: ${JSON.stringify(held)}`);
    // Each dialer process reports every circuit it holds, earlier steps' included.
    open = held.reduce((sum, h) => sum + Number(h.open), 0);
    const measured = await holdAndMeasure({
      pid: relay.pid,
      port,
      base,
      n: open,
      item: "circuit",
      holdMs: HOLD_MS,
      sampleMs: SAMPLE_MS,
    });
    report.push({
      circuits: open,
      rssPerCircuitKibMedian: measured.median,
      rssPerCircuitKibSamples: measured.samples,
      beforeGc: measured.beforeGc,
      afterGc: measured.afterGc,
    });
  }
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await relay.stop();
}
console.log(JSON.stringify({
  bench: "circuit_memory",
  date: new Date(),
  loadAverage: { start: loadAtStart, end: Deno.loadavg() },
  steps: report,
}));
