/**
 * When to renew and when to retry: pure functions of the certificate's validity, the
 * configured `renew_before`, the failures so far and a random number, so tests need no clock.
 *
 * @module
 */

import { backoffDelayMs } from "../federation/member_dialer.ts";
import { ACME_RETRY_INITIAL_MS, ACME_RETRY_MAX_MS } from "./constants.ts";

/**
 * The time to renew a certificate: `renewBeforeMs` ahead of its expiry, or at half its
 * lifetime when it lives shorter than `renewBeforeMs` (a CA issuing short-lived certificates
 * must not make hopd order again the moment one arrives).
 *
 * @example
 * ```ts
 * import { renewAtMs } from "./schedule.ts";
 * const day = 86_400_000;
 * renewAtMs({ notBeforeMs: 0, notAfterMs: 90 * day }, 30 * day); // 60 days
 * renewAtMs({ notBeforeMs: 0, notAfterMs: 6 * day }, 30 * day); // 3 days
 * ```
 *
 * @param validity The certificate's notBefore and notAfter, unix ms.
 * @param renewBeforeMs `acme.renew_before`.
 * @returns The unix time in ms at which to order its successor.
 */
export function renewAtMs(
  validity: { readonly notBeforeMs: number; readonly notAfterMs: number },
  renewBeforeMs: number,
): number {
  const lifetimeMs = validity.notAfterMs - validity.notBeforeMs;
  if (renewBeforeMs >= lifetimeMs) return validity.notBeforeMs + lifetimeMs / 2;
  return validity.notAfterMs - renewBeforeMs;
}

/**
 * The delay before the next order after `failures` failed ones in a row: doubling from
 * {@linkcode ACME_RETRY_INITIAL_MS} up to {@linkcode ACME_RETRY_MAX_MS}, with equal jitter
 * (between half and all of it) so relays that lost the CA together do not retry in step.
 *
 * @example
 * ```ts
 * import { retryDelayMs } from "./schedule.ts";
 * retryDelayMs(1, () => 0); // 30_000
 * retryDelayMs(3, () => 1); // 240_000
 * retryDelayMs(50, () => 1); // 3_600_000
 * ```
 *
 * @param failures Failed orders in a row (at least 1).
 * @param random A uniform random number in [0, 1).
 * @returns The delay in ms.
 */
export function retryDelayMs(failures: number, random: () => number): number {
  return backoffDelayMs(failures, random, {
    initialMs: ACME_RETRY_INITIAL_MS,
    maxMs: ACME_RETRY_MAX_MS,
  });
}
