/**
 * js-libp2p logs through `debug`-style loggers it creates per component and, for every new
 * stream and connection, per scope: each creation checks whether stderr is a TTY (a syscall) and
 * builds a formatter, even when nothing is enabled. A profile of hopd taking 1,000
 * reservations showed that at ~1–2% of its CPU. Unless the operator asks for libp2p's own debug
 * output (the DEBUG environment variable, e.g. DEBUG=libp2p:circuit-relay*), hopd hands libp2p
 * loggers that do nothing.
 *
 * @module
 */

import type { ComponentLogger, Logger } from "@libp2p/interface";

function noop(): void {}

const QUIET: Logger = Object.assign(noop, {
  enabled: false,
  error: noop,
  trace: noop,
  newScope: () => QUIET,
});

/**
 * The logger to give `createLibp2p`: undefined (libp2p's default) when `DEBUG` is set, else one
 * that never logs.
 *
 * @param env The process environment.
 */
export function libp2pLogger(env: Record<string, string | undefined>): ComponentLogger | undefined {
  if ((env.DEBUG ?? "") !== "") return undefined;
  return { forComponent: () => QUIET };
}
