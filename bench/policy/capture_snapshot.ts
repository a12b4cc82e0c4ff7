// Captures real policy snapshots for bench/policy_eval_bench.ts: runs hopd with the shipped
// policies at a 1 s tick while a stock client pair relays a bulk stream through one circuit
// (bench/relay_vs_stock's throughput worker), then reads the snapshot records of
// <data_dir>/decisions.ndjson and keeps the busiest tick with the ticks before it.
//
//   deno run -A bench/policy/capture_snapshot.ts [--seconds 10]
//
// Writes bench/policy/snapshot.json: { captured, snapshot, history } (history newest first).

import { parseDecisionLog } from "../../src/policy/mod.ts";
import { startWorker } from "../relay_vs_stock/_children.ts";
import { startBenchHopd, writeShippedPolicies } from "./_hopd.ts";

const HISTORY_KEPT = 10;
// ctx.history() should be full for the busiest tick (scale_up_on_load reads 4 ticks back).
const HISTORY_MIN = 5;
const CHUNK_BYTES = 64 * 1024 ** 2;

const at = Deno.args.indexOf("--seconds");
const seconds = at >= 0 ? Number(Deno.args[at + 1]) : 10;
const dir = await Deno.makeTempDir({ prefix: "hopd-policy-capture-" });
await writeShippedPolicies(dir);
const hopd = await startBenchHopd({
  HOPD_POLICY_DIR: dir,
  HOPD_POLICY_PLUGINS_DIR: `${dir}/no-plugins`,
  HOPD_POLICY_TICK: "1s",
});
const worker = startWorker("throughput", hopd.tcpAddr);
let text: string;
try {
  await worker.next((m) => m.ready === true, 60_000);
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    await worker.send({ go: CHUNK_BYTES });
    await worker.next((m) => m.done === true, 120_000);
  }
  // Two more ticks so the busiest one is followed by its record on disk.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  text = await Deno.readTextFile(`${hopd.dataDir}/decisions.ndjson`);
} finally {
  await worker.stop();
  await hopd.stop();
  await Deno.remove(dir, { recursive: true });
}
const { snapshots } = parseDecisionLog(text);
if (snapshots.length === 0) throw new Error("the decision log holds no snapshot record");
if (snapshots.length <= HISTORY_MIN) throw new Error(`only ${snapshots.length} ticks recorded`);
let busiest = HISTORY_MIN;
snapshots.forEach((s, i) => {
  const most = snapshots[busiest]!.snapshot.relay.bytesPerSecondIn;
  if (i >= HISTORY_MIN && s.snapshot.relay.bytesPerSecondIn > most) busiest = i;
});
const commit = new TextDecoder().decode(
  (await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"] }).output()).stdout,
).trim();
const out = {
  captured: {
    date: new Date().toISOString(),
    command: `deno run -A bench/policy/capture_snapshot.ts --seconds ${seconds}`,
    commit,
    how: "hopd (shipped policies, tick 1s) relaying a bulk stream through one circuit; " +
      "the tick with the most bytes relayed (5 ticks or more after start), from <data_dir>/decisions.ndjson",
    ticks: snapshots.length,
  },
  snapshot: snapshots[busiest]!.snapshot,
  history: snapshots.slice(Math.max(0, busiest - HISTORY_KEPT), busiest).reverse()
    .map((s) => s.snapshot),
};
const path = new URL("./snapshot.json", import.meta.url);
await Deno.writeTextFile(path, JSON.stringify(out, null, 2) + "\n");
console.log(JSON.stringify(out.snapshot, null, 2));
