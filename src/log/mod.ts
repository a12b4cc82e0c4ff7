/**
 * Logging setup for the whole process, on @logtape/logtape. Components log through
 * `getLogger(["hopd", "<component>"])`; this module decides where records go (stderr) and
 * how they look (JSON lines for machines, coloured text for people).
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { configureLogging } from "./mod.ts";
 * configureLogging({ level: "info", format: "json" });
 * getLogger(["hopd", "relay"]).info("Relay started on {addrs}", { addrs: [] });
 * ```
 *
 * @module
 */

import {
  configureSync,
  getAnsiColorFormatter,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
  resetSync,
  type TextFormatter,
} from "@logtape/logtape";

/** Where and how to log. */
export interface LoggingOptions {
  /** Lowest level written. */
  readonly level: LogLevel;
  /** "json" for JSON lines, "pretty" for coloured text. */
  readonly format: "json" | "pretty";
  /** Writes one formatted record. @default synchronous write to stderr */
  readonly write?: (text: string) => void;
}

const encoder = new TextEncoder();

// Strings print bare (peer IDs, multiaddrs, paths read better unquoted); other values inspected.
const prettyFormatter = getAnsiColorFormatter({
  value: (value) => typeof value === "string" ? value : Deno.inspect(value, { colors: true }),
});

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  // writeSync may write part of a large record; loop so lines are never torn.
  while (written < bytes.byteLength) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/**
 * Configures logging for the process (replacing any earlier configuration).
 *
 * @param options Level, format and (for tests) the writer.
 */
export function configureLogging(options: LoggingOptions): void {
  const formatter: TextFormatter = options.format === "json" ? jsonLinesFormatter : prettyFormatter;
  const write = options.write ?? writeStderr;
  resetSync();
  configureSync({
    sinks: { stderr: (record: LogRecord) => write(formatter(record)) },
    loggers: [
      { category: ["hopd"], lowestLevel: options.level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
