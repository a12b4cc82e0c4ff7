// How many reservations hopd holds on this machine, without errors (issue 3: "hold 20,000
// reservations on this 2-core machine without errors"). hopd runs as in
// bench/relay_vs_stock.ts (limits and policy engine off). The clients are STOCK js-libp2p
// nodes (tcp, noise, yamux, identify; connection monitor off) that each hold one connection
// to hopd and speak the hop RESERVE by hand (bench/circuit_setup/raw_client_worker.ts
// "holders"): hopd serves exactly what it serves a stock circuitRelayTransport client, but the
// client processes skip the transport's listener machinery, so 2 cores can ramp them.
//
// One process cannot hold more connections than RLIMIT_NOFILE allows, and hopd also needs
// descriptors for its listeners, epoll and the ops server: the bench holds
// min(--reservations, hard limit − 64). After the ramp it holds for --hold seconds, then checks
// hopd's gauge, the clients' open connections and hopd's refusal and error counters.
//
//   deno run -A bench/reservations_held.ts [--reservations 20000] [--hold 120]
//
// Prints text lines and one JSON document at the end.

import { numberArg } from "./_args.ts";
import { startRawWorker } from "./circuit_setup/_workers.ts";
import { type LineChild, startHopd } from "./relay_vs_stock/_children.ts";
import { cpuSeconds, openFileLimits, rssKib, sampleValue, scrape } from "./relay_vs_stock/_proc.ts";

const ASKED = numberArg("--reservations", 20_000);
const HOLD_S = numberArg("--hold", 120);
const PER_WORKER = 2_500;
const CONCURRENCY = 25;
/** Descriptors hopd keeps besides its connections (listeners, epoll, ops server, files). */
const FD_MARGIN = 64;
const RAMP_TIMEOUT_MS = 1_200_000;

const limits = await openFileLimits();
const target = Math.min(ASKED, limits.hard - FD_MARGIN);
const log = (message: string) =>
  console.log(`[reservations_held ${new Date().toISOString().slice(11, 19)}] ${message}`);
log(`asked ${ASKED}, RLIMIT_NOFILE ${limits.soft}/${limits.hard}: holding ${target}`);

const relay = await startHopd();
const workers: LineChild[] = [];
const idleRss = await rssKib(relay.pid);
const metrics = async () => {
  const text = await scrape(relay.metricsUrl!);
  return {
    active: sampleValue(text, "hopd_reservations_active"),
    created: sampleValue(text, "hopd_reservations_total", 'result="created"'),
    refusals: [...text.matchAll(/^hopd_refusals_total\{[^}]*\} (\d+)/gm)]
      .reduce((n, m) => n + Number(m[1]), 0),
    streamErrors: [...text.matchAll(/^hopd_relay_stream_errors_total\{[^}]*\} (\d+)/gm)]
      .reduce((n, m) => n + Number(m[1]), 0),
  };
};
let result;
try {
  const cpuBefore = await cpuSeconds(relay.pid);
  const rampStart = performance.now();
  let reserved = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  // Workers start one after the other: each holds its nodes while the next ramps.
  for (let left = target; left > 0; left -= PER_WORKER) {
    const n = Math.min(PER_WORKER, left);
    const worker = startRawWorker("holders", relay.tcpAddr, n, 0, String(CONCURRENCY));
    workers.push(worker);
    const done = await worker.next((m) => m.done === true, RAMP_TIMEOUT_MS);
    reserved += Number(done.reserved);
    failed += Number(done.failed);
    for (const [k, v] of Object.entries(done.errors as Record<string, number>)) {
      errors[k] = (errors[k] ?? 0) + v;
    }
    log(
      `${reserved} reserved, ${failed} failed, ` +
        `${((performance.now() - rampStart) / 1000).toFixed(0)} s, hopd gauge ` +
        `${(await metrics()).active}`,
    );
  }
  const rampS = (performance.now() - rampStart) / 1000;
  const rampCpuS = (await cpuSeconds(relay.pid)) - cpuBefore;
  const rssSamples: number[] = [];
  const holdCpuBefore = await cpuSeconds(relay.pid);
  for (let t = 0; t < HOLD_S; t += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    rssSamples.push(((await rssKib(relay.pid)) - idleRss) / Math.max(1, reserved));
  }
  const holdCpuS = (await cpuSeconds(relay.pid)) - holdCpuBefore;
  let connected = 0;
  for (const worker of workers) {
    await worker.send({ check: true });
    connected += Number((await worker.next((m) => m.check === true, 60_000)).connected);
  }
  const end = await metrics();
  rssSamples.sort((a, b) => a - b);
  result = {
    bench: "reservations_held",
    date: new Date(),
    rlimitNofile: limits,
    asked: ASKED,
    target,
    reserved,
    failed,
    errors,
    rampSeconds: Number(rampS.toFixed(1)),
    rampRatePerSecond: Number((reserved / rampS).toFixed(1)),
    hopdCpuMsPerReservationDuringRamp: Number(((rampCpuS * 1000) / reserved).toFixed(2)),
    holdSeconds: HOLD_S,
    hopdCpuShareWhileHolding: Number((holdCpuS / HOLD_S).toFixed(3)),
    clientsConnectedAtEnd: connected,
    gaugeReservationsActiveAtEnd: end.active,
    reservationsCreated: end.created,
    refusals: end.refusals,
    relayStreamErrors: end.streamErrors,
    rssPerReservationKibMedian: Number(rssSamples[rssSamples.length >> 1]!.toFixed(1)),
    heldWithoutErrors: failed === 0 && end.active === target && connected === target &&
      end.refusals === 0 && end.streamErrors === 0,
  };
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  await relay.stop();
}
log(
  `held ${result.gaugeReservationsActiveAtEnd} of ${target} after ${HOLD_S} s: ` +
    (result.heldWithoutErrors ? "no errors" : "ERRORS"),
);
console.log(JSON.stringify(result));
