// End-to-end bandwidth shaping: the real hopd program relaying one-way pushes between stock
// js-libp2p clients, measured as bytes arriving at the targets over a window that skips the
// first second (the shaper's 100 ms burst and the buffers filling up).
//
// These caught a data-path bug: a paused stream hands over its whole yamux window (up to
// 16 MiB) in one message on resume, so caps held only on long-run average. The circuit now
// forwards shaped data in 16 KiB quanta, putting the rest back until the shaper allows it.
import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { spawnHopd } from "./_helpers/hopd_process.ts";
import { metric, tcpAddr } from "./_helpers/ops_probe.ts";
import {
  measureRates,
  openPush,
  type Push,
  type SinkTarget,
  startSinkTarget,
} from "./_helpers/relay_traffic.ts";
// @ts-types="./interop/relay_echo_client.d.ts"
import { createClient } from "./interop/relay_echo_client.mjs";

const KIB = 1024;
const MIB = 1024 * KIB;
const WINDOW_FROM_MS = 1_000;
const WINDOW_TO_MS = 4_000;

/** Initiators, each pushing flat out into `circuits` targets of its own. */
async function withPushes(
  env: Record<string, string>,
  circuitsPerInitiator: readonly number[],
  measure: (rates: number[][], opsUrl: string) => void | Promise<void>,
): Promise<void> {
  const hopd = await spawnHopd({
    env: { HOPD_RELAY_CIRCUIT_DATA: "0", HOPD_RELAY_CIRCUIT_DURATION: "0", ...env },
  });
  const nodes: Libp2p[] = [];
  const pushes: Push[] = [];
  try {
    const relay = tcpAddr(hopd.listenAddrs, "ip4");
    const groups: SinkTarget[][] = [];
    for (const circuits of circuitsPerInitiator) {
      const initiator = await createClient();
      nodes.push(initiator);
      const targets: SinkTarget[] = [];
      for (let i = 0; i < circuits; i++) {
        const target = await startSinkTarget(relay);
        nodes.push(target.node);
        targets.push(target);
        pushes.push(await openPush(initiator, target));
      }
      groups.push(targets);
    }
    for (const push of pushes) push.start();
    const flat = await measureRates(groups.flat(), WINDOW_FROM_MS, WINDOW_TO_MS);
    const rates: number[][] = [];
    let next = 0;
    for (const targets of groups) rates.push(flat.slice(next, next += targets.length));
    console.log(
      `rates KiB/s: ${JSON.stringify(rates.map((r) => r.map((x) => Math.round(x / KIB))))}`,
    );
    await measure(rates, hopd.opsUrl);
  } finally {
    await Promise.allSettled(pushes.map((push) => push.stop()));
    await Promise.allSettled(nodes.map((node) => node.stop()));
    assert.equal((await hopd.stop()).code, 0);
  }
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function assertWithin(actual: number, expected: number, tolerance: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= expected * tolerance,
    `${what}: ${Math.round(actual / KIB)} KiB/s is not within ${tolerance * 100}% of ${
      Math.round(expected / KIB)
    } KiB/s`,
  );
}

Deno.test({
  name: "bandwidth_per_circuit holds one circuit pushing flat out to its cap within 10%",
  fn: () =>
    withPushes({ HOPD_LIMITS_BANDWIDTH_PER_CIRCUIT: "512KiB" }, [1], async (rates, opsUrl) => {
      assertWithin(rates[0]![0]!, 512 * KIB, 0.1, "the circuit");
      assert.ok((await metric(opsUrl, "hopd_bandwidth_throttled_seconds_total")) > 0);
    }),
});

Deno.test({
  name: "bandwidth_global holds the sum of circuits from several peers within 10%",
  fn: () =>
    withPushes({ HOPD_LIMITS_BANDWIDTH_GLOBAL: "1MiB" }, [1, 1, 1], (rates) => {
      assertWithin(sum(rates.flat()), MIB, 0.1, "all circuits together");
    }),
});

Deno.test({
  name:
    "under bandwidth_global a peer with one circuit keeps its fair share against a peer pushing on four",
  fn: () =>
    withPushes({ HOPD_LIMITS_BANDWIDTH_GLOBAL: "1MiB" }, [4, 1], (rates) => {
      const [hog, polite] = [sum(rates[0]!), sum(rates[1]!)];
      assert.ok(hog + polite <= MIB * 1.1, `together ${Math.round((hog + polite) / KIB)} KiB/s`);
      // Its fair share is half of the global cap.
      assert.ok(
        polite >= 0.4 * MIB,
        `the one-circuit peer got ${Math.round(polite / KIB)} KiB/s next to ${
          Math.round(hog / KIB)
        } KiB/s`,
      );
    }),
});
