/**
 * Every interop suite, in the order `deno task interop` runs them; the hole-punch suite
 * (./holepunch.ts) and the AutoNAT suite (./autonat.ts), both with clients behind NATs in
 * network namespaces, come last.
 *
 * @module
 */

import { autonatSuite } from "./autonat.ts";
import { bulkSuite } from "./bulk.ts";
import { holepunchSuite } from "./holepunch.ts";
import { limitsSuite, matrixSuite, stopSuite, type Suite } from "./suites.ts";

/** The suites, in order. */
export const SUITES: readonly Suite[] = [
  matrixSuite,
  limitsSuite,
  stopSuite,
  bulkSuite,
  holepunchSuite,
  autonatSuite,
];
