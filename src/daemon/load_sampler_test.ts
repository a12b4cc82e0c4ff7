import assert from "node:assert/strict";
import { ManualClock } from "../clock/mod.ts";
import { MetricsRegistry } from "../metrics/mod.ts";
import { relayedBytesCounter } from "./_test_peers.ts";
import { LoadSampler } from "./load_sampler.ts";

Deno.test("LoadSampler reports relayed bytes per second per direction over its interval", async () => {
  const registry = new MetricsRegistry();
  const bytes = relayedBytesCounter(registry);
  let statsCalls = 0;
  const clock = new ManualClock(0);
  const sampler = new LoadSampler({
    registry,
    relay: { stats: () => (statsCalls++, { reservations: 0, circuits: 0 }) as never },
    clock,
  });
  assert.deepEqual(sampler.current(), {
    bytesPerSecondIn: 0,
    bytesPerSecondOut: 0,
    cpu: 0,
    memoryBytes: 0,
  });
  bytes.inc({ direction: "src_to_dst" }, 3_000);
  bytes.inc({ direction: "dst_to_src" }, 1_000);
  clock.advance(2_000);
  await sampler.sample();
  assert.equal(statsCalls, 1, "live circuits' bytes are flushed into the counter first");
  const first = sampler.current();
  assert.equal(first.bytesPerSecondIn, 1_500);
  assert.equal(first.bytesPerSecondOut, 500);
  assert.ok(first.memoryBytes > 0 && first.cpu >= 0);
  clock.advance(1_000);
  await sampler.sample();
  assert.equal(sampler.current().bytesPerSecondIn, 0, "nothing relayed since");
});

Deno.test("LoadSampler keeps its last sample when reading fails", async () => {
  const sampler = new LoadSampler({
    registry: new MetricsRegistry(),
    relay: {
      stats: () => {
        throw new Error("relay gone");
      },
    },
  });
  await sampler.sample();
  assert.equal(sampler.current().bytesPerSecondIn, 0);
});
