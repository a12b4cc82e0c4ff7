/**
 * Where the CLI writes: the process's stdout and stderr, or a test's capture.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";

/** Where the CLI writes. Tests pass their own to capture output. */
export interface CliIo {
  /** Writes `text` as is (no newline added) to standard output. */
  stdout(text: string): void;
  /** Writes `text` as is (no newline added) to standard error. */
  stderr(text: string): void;
  /** The environment `HOPD_*` variables are read from. */
  env(): Record<string, string>;
  /** Request timeouts and measured round trips. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let written = 0;
  while (written < bytes.byteLength) written += file.writeSync(bytes.subarray(written));
}

/** The real process streams and environment. */
export const PROCESS_IO: CliIo = {
  stdout: (text) => writeAll(Deno.stdout, text),
  stderr: (text) => writeAll(Deno.stderr, text),
  env: () => Deno.env.toObject(),
  clock: SYSTEM_CLOCK,
};
