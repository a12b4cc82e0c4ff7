/**
 * Logging setup for the whole process, on @logtape/logtape. Components log through
 * `getLogger(["hopd", "<component>"])`; this module decides where records go (stderr) and
 * how they look (JSON lines for machines, text for people: coloured only on a terminal and
 * never with `NO_COLOR` set).
 *
 * With JSON lines, everything else that would write a line to stderr through `console`
 * (Deno's own runtime warnings, a dependency's `console.warn`) is routed through the logger
 * `["hopd", "runtime"]` too, so the stream holds nothing but JSON.
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

import { format } from "node:util";
import type { LOG_LEVELS } from "../config/mod.ts";
import {
  configureSync,
  getAnsiColorFormatter,
  getLogger,
  getTextFormatter,
  jsonLinesFormatter,
  type LogRecord,
  resetSync,
  type TextFormatter,
} from "@logtape/logtape";

/** Where and how to log. */
export interface LoggingOptions {
  /** Lowest level written (`log.level`: logtape's levels, which the config schema lists). */
  readonly level: (typeof LOG_LEVELS)[number];
  /** "json" for JSON lines, "pretty" for text. */
  readonly format: "json" | "pretty";
  /** Writes one formatted record. @default synchronous write to stderr */
  readonly write?: (text: string) => void;
  /**
   * Whether pretty text is coloured. @default stderr is a terminal and `NO_COLOR` is not set
   */
  readonly color?: boolean;
}

const encoder = new TextEncoder();

// Strings print bare (peer IDs, multiaddrs, paths read better unquoted); other values inspected.
function prettyFormatter(color: boolean): TextFormatter {
  const value = (v: unknown) => typeof v === "string" ? v : Deno.inspect(v, { colors: color });
  return color ? getAnsiColorFormatter({ value, timestamp: "date-time-tz" }) : getTextFormatter({
    value,
    timestamp: "date-time-tz",
    level: "ABBR",
    // The coloured layout without its colours.
    format: ({ timestamp, level, category, message }) =>
      `${timestamp} ${level} ${category}: ${message}`,
  });
}

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  // writeSync may write part of a large record; loop so lines are never torn.
  while (written < bytes.byteLength) written += Deno.stderr.writeSync(bytes.subarray(written));
}

/** `console`'s own methods, kept to put back when logging is configured without routing. */
const CONSOLE_METHODS = ["debug", "log", "info", "warn", "error"] as const;
const originalConsole = Object.fromEntries(
  CONSOLE_METHODS.map((name) => [name, console[name]]),
) as Record<(typeof CONSOLE_METHODS)[number], (...args: unknown[]) => void>;
const CONSOLE_LEVELS: Record<
  (typeof CONSOLE_METHODS)[number],
  "debug" | "info" | "warn" | "error"
> = { debug: "debug", log: "info", info: "info", warn: "warn", error: "error" };

// Sends console output through the logger (one record per call). A record that fails on its
// way out falls back to the original method rather than looping.
function routeConsole(route: boolean): void {
  const runtime = getLogger(["hopd", "runtime"]);
  let inside = false;
  for (const name of CONSOLE_METHODS) {
    if (!route) {
      console[name] = originalConsole[name];
      continue;
    }
    const level = CONSOLE_LEVELS[name];
    console[name] = (...args: unknown[]) => {
      if (inside) return originalConsole[name](...args);
      inside = true;
      try {
        // The text is the template: its braces are literal, not placeholders.
        runtime[level](format(...args).replaceAll("{", "{{").replaceAll("}", "}}"));
      } finally {
        inside = false;
      }
    };
  }
}

/**
 * Configures logging for the process (replacing any earlier configuration).
 *
 * @param options Level, format and (for tests) the writer and colour.
 */
export function configureLogging(options: LoggingOptions): void {
  const color = options.color ?? (Deno.stderr.isTerminal() && !Deno.noColor);
  const formatter: TextFormatter = options.format === "json"
    ? jsonLinesFormatter
    : prettyFormatter(color);
  const write = options.write ?? writeStderr;
  resetSync();
  configureSync({
    sinks: { stderr: (record: LogRecord) => write(formatter(record)) },
    loggers: [
      { category: ["hopd"], lowestLevel: options.level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
  routeConsole(options.format === "json");
}
