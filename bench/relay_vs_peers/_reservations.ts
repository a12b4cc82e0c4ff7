// Figure 2 of bench/relay_vs_peers.ts: RSS per held reservation at each step of a ramp,
// hopd, the stock js relay and go-libp2p's relay one after the other, each on a fresh
// process. The clients are bench/circuit_setup/raw_client_worker.ts's holders (as
// bench/reservations_held.ts uses them): stock js-libp2p nodes (tcp, noise, yamux, identify;
// connection monitor off) that each hold one connection to the relay and speak hop RESERVE by
// hand, 2,500 per process. Every relay serves them exactly what it serves a stock
// circuitRelayTransport client, and 2 cores can ramp 10,000 of them.
//
// Per step: ramp to the count, then RSS (VmRSS) every 5 s over the hold; the figure is the
// median over the hold less the idle RSS (after a settle), divided by the reservations the
// clients still hold at the end (connections still open).

import { startRawWorker } from "../circuit_setup/_workers.ts";
import {
  type LineChild,
  type RelayProcess,
  startHopd,
  startStockRelay,
} from "../relay_vs_stock/_children.ts";
import { median, rssKib } from "../relay_vs_stock/_proc.ts";
import { type Programs, startGoRelay } from "./_peers.ts";

const PER_WORKER = 2_500;
const CONCURRENCY = 25;
const SETTLE_MS = 5_000;
const SAMPLE_MS = 5_000;
const RAMP_TIMEOUT_MS = 600_000;

/** What the reservations figure needs from bench/relay_vs_peers.ts. */
export interface ReservationsInit {
  readonly programs: Programs;
  readonly relayNames: readonly RelayProcess["name"][];
  readonly hopdDenoFlags: string[];
  readonly goBuffer: number | undefined;
  readonly steps: readonly number[];
  readonly holdMs: number;
  readonly log: (message: string) => void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

/** Starts workers until `count` more clients hold (or failed) a reservation. */
async function ramp(relay: RelayProcess, count: number, workers: LineChild[]) {
  let reserved = 0;
  let failed = 0;
  const errors: Record<string, number> = {};
  for (let left = count; left > 0; left -= PER_WORKER) {
    const n = Math.min(PER_WORKER, left);
    const worker = startRawWorker("holders", relay.tcpAddr, n, 0, String(CONCURRENCY));
    workers.push(worker);
    const done = await worker.next((m) => m.done === true, RAMP_TIMEOUT_MS);
    reserved += Number(done.reserved);
    failed += Number(done.failed);
    for (const [k, v] of Object.entries(done.errors as Record<string, number>)) {
      errors[k] = (errors[k] ?? 0) + v;
    }
  }
  return { reserved, failed, errors };
}

/** Clients whose connection to the relay is still open. */
async function connected(workers: LineChild[]): Promise<number> {
  let n = 0;
  for (const worker of workers) {
    await worker.send({ check: true });
    n += Number((await worker.next((m) => m.check === true, 60_000)).connected);
  }
  return n;
}

async function oneRelay(init: ReservationsInit, name: RelayProcess["name"]) {
  const relay = name === "hopd"
    ? await startHopd(init.hopdDenoFlags)
    : name === "stock"
    ? await startStockRelay()
    : await startGoRelay(init.programs, init.goBuffer);
  const workers: LineChild[] = [];
  try {
    await sleep(SETTLE_MS);
    const idleKib = await rssKib(relay.pid);
    const steps = [];
    let asked = 0;
    for (const step of init.steps) {
      const t0 = performance.now();
      const added = await ramp(relay, step - asked, workers);
      asked = step;
      const rampS = (performance.now() - t0) / 1000;
      const samples: number[] = [];
      for (let t = 0; t < init.holdMs; t += SAMPLE_MS) {
        await sleep(SAMPLE_MS);
        samples.push(await rssKib(relay.pid));
      }
      const holding = await connected(workers);
      const per = (kib: number) => round((kib - idleKib) / Math.max(1, holding));
      steps.push({
        step,
        reserved: added.reserved,
        failed: added.failed,
        errors: added.errors,
        holdingAtEnd: holding,
        rampSeconds: round(rampS),
        rssMib: round(median(samples) / 1024),
        perReservationKib: per(median(samples)),
        perReservationKibRange: [per(Math.min(...samples)), per(Math.max(...samples))],
      });
      init.log(
        `reservations ${name} ${step}: ${holding} held, ${per(median(samples))} KiB each ` +
          `(median over ${init.holdMs / 1000} s), ${added.failed} failed`,
      );
    }
    return { idleRssMib: round(idleKib / 1024), holdSeconds: init.holdMs / 1000, steps };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await relay.stop();
  }
}

/** RSS per held reservation of every relay, one after the other, each on a fresh process. */
export async function measureReservations(init: ReservationsInit) {
  const figures: Record<string, unknown> = {
    clients: `raw holders (bench/circuit_setup/raw_client_worker.ts), ${PER_WORKER} per process`,
  };
  for (const name of init.relayNames) figures[name] = await oneRelay(init, name);
  return figures;
}
