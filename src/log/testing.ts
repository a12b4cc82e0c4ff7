/**
 * Test support: capture what one logger category logs, in memory (never imported by the
 * daemon).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getLogger } from "@logtape/logtape";
 * import { captureLogs } from "./testing.ts";
 * {
 *   using logs = captureLogs(["hopd", "example"], "debug");
 *   getLogger(["hopd", "example"]).debug("Hello {who}", { who: "relay" });
 *   assert.equal(logs.records[0]?.properties.who, "relay");
 * }
 * ```
 *
 * @module
 */

import { configureSync, type LogLevel, type LogRecord, resetSync } from "@logtape/logtape";

/** What {@linkcode captureLogs} holds; disposing it resets logtape. */
export interface CapturedLogs extends Disposable {
  /** Every record logged under the category at or above the level, oldest first. */
  readonly records: LogRecord[];
}

/**
 * Sends `category`'s records at `lowestLevel` and above to memory (logtape's own meta logger
 * to nowhere) until the result is disposed.
 *
 * @param category The logger category, e.g. `["hopd", "relay"]`.
 * @param lowestLevel The lowest level kept.
 * @returns The records, and a dispose that resets logtape.
 */
export function captureLogs(category: readonly string[], lowestLevel: LogLevel): CapturedLogs {
  const records: LogRecord[] = [];
  configureSync({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: [...category], lowestLevel, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  return { records, [Symbol.dispose]: () => resetSync() };
}
