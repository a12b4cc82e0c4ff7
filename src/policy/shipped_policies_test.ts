// The shipped restart_on_memory policy run tick by tick, its ctx.state carried from one
// evaluation to the next as the engine carries it: the fixtures (policies/*_test.js) start
// from a given trend, this builds the trend itself.

import assert from "node:assert/strict";
import { defaultConfig } from "../config/mod.ts";
import { exampleSnapshot, mergeSnapshot } from "./example_snapshot.ts";
import { evaluatePolicy, sandboxLimits } from "./prepare.ts";
import { SandboxWorker } from "./sandbox_worker.ts";
import type { PolicyResult } from "./types.ts";

const MIB = 1024 ** 2;
const TICK_MS = 5_000;
const START = Date.UTC(2026, 0, 1, 12);

/** Evaluates restart_on_memory once per tick over `minutes`; `at(minute)` gives the load. */
async function run(
  minutes: number,
  at: (minute: number) => { reservations: number; circuits: number; rssBytes: number },
): Promise<PolicyResult[]> {
  const source = await Deno.readTextFile(
    new URL("../../policies/restart_on_memory.js", import.meta.url),
  );
  const limits = sandboxLimits(defaultConfig().policy);
  const worker = new SandboxWorker({ graceMs: defaultConfig().policy.killGraceMs });
  const results: PolicyResult[] = [];
  try {
    const loaded = await worker.load({
      name: "memory",
      fileName: "restart_on_memory.js",
      source,
      limits,
    });
    assert.ok(loaded.ok);
    let state = "{}";
    for (let ms = 0; ms <= minutes * 60_000; ms += TICK_MS) {
      const now = START + ms;
      const { reservations, circuits, rssBytes } = at(ms / 60_000);
      const snapshot = mergeSnapshot(exampleSnapshot(now), {
        node: { uptimeSeconds: 600 + ms / 1000 },
        process: { rssBytes },
        relay: { reservations, circuits },
      });
      const evaluated = await evaluatePolicy(worker, {
        sandbox: "memory",
        limits,
        nowMs: now,
        snapshotJson: JSON.stringify(snapshot),
        stateJson: state,
        history: [],
        seed: 1,
      });
      assert.ok(evaluated.ok, evaluated.ok ? "" : evaluated.message);
      results.push(evaluated.result);
      state = JSON.stringify(evaluated.state);
    }
  } finally {
    worker.close();
  }
  return results;
}

const restarts = (results: PolicyResult[]) =>
  results.filter((r) => r.actions.some((a) => a.type === "restart")).length;

Deno.test("restart_on_memory restarts a node that leaks 30 MiB a minute under a flat load", async () => {
  // 2,000 reservations and 100 circuits all along; RSS from 600 MiB up by 30 MiB a minute.
  const results = await run(40, (minute) => ({
    reservations: 2_000,
    circuits: 100,
    rssBytes: (600 + 30 * minute) * MIB,
  }));
  const first = results.findIndex((r) => r.actions.some((a) => a.type === "restart"));
  assert.ok(first > 0, "a restart is asked for");
  // Not before 20 minutes of trend, and only once 512 MiB are unexplained.
  assert.ok(first * TICK_MS >= 20 * 60_000, `asked at tick ${first}`);
  assert.equal(results[first]!.verdict, "unhealthy");
  assert.match(results[first]!.reasons[0]!, /while the load stayed flat/);
});

Deno.test("restart_on_memory never restarts a node filling to the default capacity", async () => {
  const config = defaultConfig();
  const full = { reservations: config.relay.maxReservations, circuits: config.relay.maxCircuits };
  // A 30-minute ramp to full, then 30 minutes full; RSS 160 MiB idle plus 115 KB per
  // reservation (the highest figure measured) and 64 KiB per circuit, and growing 2 MiB a
  // minute once full (V8's heap settling), past the old fixed 2 GiB restart.
  const results = await run(60, (minute) => {
    const share = Math.min(1, minute / 30);
    const reservations = Math.round(full.reservations * share);
    const circuits = Math.round(full.circuits * share);
    const rssBytes = 160 * MIB + reservations * 115_000 + circuits * 64 * 1024 +
      Math.max(0, minute - 30) * 2 * MIB;
    return { reservations, circuits, rssBytes };
  });
  assert.ok(
    results.at(-1)!.verdict === "healthy",
    JSON.stringify(results.at(-1)),
  );
  assert.equal(restarts(results), 0);
});
