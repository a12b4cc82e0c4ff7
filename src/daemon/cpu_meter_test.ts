import assert from "node:assert/strict";
import { CpuMeter } from "./cpu_meter.ts";

Deno.test("CpuMeter.takeSeconds() hands out the user and system time used since the last read", () => {
  let usage = { user: 1_000_000, system: 500_000 };
  const meter = new CpuMeter(() => usage);
  usage = { user: 1_750_000, system: 750_000 };
  assert.equal(meter.takeSeconds(), 1);
  assert.equal(meter.takeSeconds(), 0, "nothing used since");
  usage = { user: 1_800_000, system: 750_000 };
  assert.equal(meter.takeSeconds(), 0.05);
});

Deno.test("CpuMeter reads the real process by default", () => {
  const meter = new CpuMeter();
  let spin = 0;
  for (let i = 0; i < 2e6; i++) spin += i;
  assert.ok(spin > 0 && meter.takeSeconds() > 0);
});
