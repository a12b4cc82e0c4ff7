import assert from "node:assert/strict";
import { denoFdProbe, FdBudget } from "./fd_budget.ts";
import { FD_PROBE_STEP, FD_RECHECK_FAR_MS, FD_RECHECK_NEAR_MS } from "./constants.ts";
import { ManualClock } from "../clock/mod.ts";

function fakeProbe(freeNow: () => number) {
  const asked: number[] = [];
  return {
    asked,
    probe: {
      free(max: number) {
        asked.push(max);
        return Math.min(max, freeNow());
      },
    },
  };
}

Deno.test("FdBudget.fits() probes once, then counts admitted sockets until the probed room is used", () => {
  let free = 10_000;
  const clock = new ManualClock(0);
  const { probe, asked } = fakeProbe(() => free);
  const budget = new FdBudget({ reserve: 100, probe, clock });
  assert.equal(budget.fits(100), true);
  assert.deepEqual(asked, [100 + FD_PROBE_STEP]);
  // The probe found at least reserve + step: step - 1 more sockets fit without probing.
  for (let i = 0; i < FD_PROBE_STEP - 1; i++) {
    budget.opened();
    free--;
    assert.equal(budget.fits(100), true);
  }
  assert.equal(budget.probes, 1);
  budget.opened();
  free--;
  assert.equal(budget.fits(100), true);
  assert.equal(budget.probes, 2, "used up: probed again");
});

Deno.test("FdBudget.fits() refuses near the limit without probing each time, and admits again as sockets close", () => {
  const clock = new ManualClock(0);
  const { probe } = fakeProbe(() => 102);
  const budget = new FdBudget({ reserve: 100, probe, clock });
  assert.equal(budget.fits(100), true); // 102 free: one more leaves 101
  budget.opened();
  assert.equal(budget.fits(100), true); // 101 free: one more leaves 100
  budget.opened();
  assert.equal(budget.fits(100), false);
  assert.equal(budget.fits(100), false);
  assert.equal(budget.probes, 1, "near the limit the figure is exact: no probe per refusal");
  assert.equal(budget.fits(25), true, "a smaller keep (the ops server) still fits");
  budget.closed();
  assert.equal(budget.fits(100), true);
  clock.advance(FD_RECHECK_NEAR_MS);
  budget.fits(100);
  assert.equal(budget.probes, 2, "stale near the limit: probed again");
});

Deno.test("FdBudget.fits() re-probes far from the limit only every FD_RECHECK_FAR_MS", () => {
  const clock = new ManualClock(0);
  const { probe } = fakeProbe(() => 1_000_000);
  const budget = new FdBudget({ reserve: 8, probe, clock });
  budget.fits(8);
  clock.advance(FD_RECHECK_FAR_MS - 1);
  budget.fits(8);
  assert.equal(budget.probes, 1);
  clock.advance(1);
  budget.fits(8);
  assert.equal(budget.probes, 2);
});

Deno.test("FdBudget with reserve 0 is off: it always fits and never probes", () => {
  const { probe, asked } = fakeProbe(() => 0);
  const budget = new FdBudget({ reserve: 0, probe, clock: new ManualClock(0) });
  assert.equal(budget.fits(0), true);
  assert.deepEqual(asked, []);
});

Deno.test("denoFdProbe() counts free descriptors up to its bound and closes what it opened", () => {
  const probe = denoFdProbe();
  assert.equal(probe.free(32), 32);
  assert.equal(probe.free(32), 32, "the first probe's descriptors were closed");
});
