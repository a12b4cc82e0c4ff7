/**
 * `hopd health`: probes a node's `/ready` once and maps the answer to exit codes 0 (ready),
 * 1 (not ready, with the node's reasons) and 2 (unreachable or not hopd).
 *
 * @module
 */

import { abortAfter, type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import { HEALTH_NOT_READY, HEALTH_READY, HEALTH_UNREACHABLE } from "./exit_codes.ts";

/** Default URL probed by `hopd health`: the default ops listener's /ready. */
export const DEFAULT_HEALTH_URL = "http://127.0.0.1:8080/ready";

function describeFetchError(error: unknown): string {
  // fetch wraps the socket error ("Connection refused") in a generic "fetch failed".
  const cause = (error as Error).cause;
  const message = cause instanceof Error ? cause.message : (error as Error).message;
  return message.split("\n")[0] ?? String(error);
}

/** Outcome of one readiness probe: the exit code and one human line. */
export interface HealthResult {
  readonly code: number;
  readonly line: string;
}

/**
 * Probes a node's /ready once. A URL without a path gets `/ready` appended.
 *
 * @param url The node's ops URL.
 * @param timeoutMs How long to wait for an answer.
 * @param clock The timeout's timer, and the round trip shown. @default SYSTEM_CLOCK
 * @returns 0 ready, 1 not ready (with the node's reasons), 2 unreachable or not hopd.
 */
export async function probeReady(
  url: URL,
  timeoutMs: number,
  clock: Clock = SYSTEM_CLOCK,
): Promise<HealthResult> {
  const target = new URL(url);
  if (target.pathname === "/" || target.pathname === "") target.pathname = "/ready";
  const startedAtMs = clock.monotonicMs();
  const timeout = abortAfter(clock, timeoutMs);
  let response: Response;
  try {
    response = await fetch(target, { signal: timeout.signal });
  } catch (error) {
    timeout.clear();
    const reason = error instanceof DOMException && error.name === "TimeoutError"
      ? `no answer within ${timeoutMs} ms`
      : describeFetchError(error);
    return { code: HEALTH_UNREACHABLE, line: `unreachable: ${target.href}: ${reason}` };
  }
  const elapsedMs = Math.round(clock.monotonicMs() - startedAtMs);
  let body: { ready?: unknown; reasons?: unknown } = {};
  try {
    body = await response.json();
  } catch {
    // Not JSON: not hopd's /ready; judged by status below.
  } finally {
    timeout.clear();
  }
  if (response.status === 200 && body.ready === true) {
    return { code: HEALTH_READY, line: `ready: ${target.href} (${elapsedMs} ms)` };
  }
  if (response.status === 503) {
    const reasons = Array.isArray(body.reasons) ? body.reasons.join("; ") : "no reason given";
    return { code: HEALTH_NOT_READY, line: `not ready: ${target.href}: ${reasons}` };
  }
  return {
    code: HEALTH_UNREACHABLE,
    line:
      `unreachable: ${target.href} answered HTTP ${response.status}, not a hopd readiness reply`,
  };
}
