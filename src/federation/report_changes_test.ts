import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { captureLogs } from "../log/testing.ts";
import { logReportChange, reportChange } from "./report_changes.ts";
import { idleLoadReport } from "./testing.ts";

Deno.test("reportChange() tells a drain flipping and a change of reservations, circuits, verdict or weight, not of CPU or memory", async (t) => {
  const idle = idleLoadReport();
  const load = (reservations: number, cpu = 0) => ({ ...idle.load, reservations, cpu });
  const cases: [
    string,
    ReturnType<typeof idleLoadReport> | undefined,
    ReturnType<typeof idleLoadReport>,
    unknown,
  ][] = [
    ["a first report changes every field", undefined, idle, {
      changed: ["reservations", "circuits", "verdict", "weight"],
    }],
    ["a first report that drains", undefined, idleLoadReport({ draining: true }), {
      draining: true,
      changed: ["reservations", "circuits", "verdict", "weight"],
    }],
    ["the same report", idle, idleLoadReport({ seq: 2 }), { changed: [] }],
    ["CPU and memory only", idle, idleLoadReport({ load: { ...load(0, 0.7), memoryBytes: 9e8 } }), {
      changed: [],
    }],
    ["reservations", idle, idleLoadReport({ load: load(10) }), { changed: ["reservations"] }],
    ["verdict and weight", idle, idleLoadReport({ verdict: "degraded", weight: 2 }), {
      changed: ["verdict", "weight"],
    }],
    ["a drain", idle, idleLoadReport({ draining: true }), { draining: true, changed: [] }],
    ["its end", idleLoadReport({ draining: true }), idle, { draining: false, changed: [] }],
  ];
  for (const [name, before, after, expected] of cases) {
    await t.step(name, () => assert.deepEqual(reportChange(before, after), expected));
  }
});

Deno.test("logReportChange() logs a drain and its end at info, a ranked change at debug, nothing for a leaving report", () => {
  using logs = captureLogs(["hopd", "test"], "debug");
  const { records } = logs;
  const log = getLogger(["hopd", "test"]);
  const idle = idleLoadReport();
  const busy = idleLoadReport({ seq: 2, load: { ...idle.load, reservations: 7, circuits: 3 } });
  const draining = idleLoadReport({ seq: 3, draining: true, load: busy.load });
  logReportChange(log, { peerId: "A", report: busy, change: reportChange(idle, busy) });
  logReportChange(log, { peerId: "A", report: draining, change: reportChange(busy, draining) });
  logReportChange(log, { peerId: "A", report: idle, change: reportChange(draining, idle) });
  const leaving = idleLoadReport({ seq: 5, leaving: true, weight: 3 });
  logReportChange(log, { peerId: "A", report: leaving, change: reportChange(idle, leaving) });
  assert.deepEqual(
    records.map((
      r,
    ) => [r.level, String(r.rawMessage).split(" ").slice(2).join(" "), r.properties]),
    [
      [
        "debug",
        "reports {reservations} reservations, {circuits} circuits, verdict {verdict}, weight {weight}",
        {
          peerId: "A",
          reservations: 7,
          circuits: 3,
          verdict: "healthy",
          weight: 1,
          draining: false,
          changed: ["reservations", "circuits"],
          seq: 2,
        },
      ],
      ["info", "is draining: no longer selected", { peerId: "A", draining: true }],
      ["info", "ended its drain", { peerId: "A", draining: false }],
      [
        "debug",
        "reports {reservations} reservations, {circuits} circuits, verdict {verdict}, weight {weight}",
        {
          peerId: "A",
          reservations: 0,
          circuits: 0,
          verdict: "healthy",
          weight: 1,
          draining: false,
          changed: ["reservations", "circuits"],
          seq: 1,
        },
      ],
    ],
  );
});
