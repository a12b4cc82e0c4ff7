/**
 * Every interop suite, in the order `deno task interop` runs them. The hole-punch suite
 * (network namespaces behind NATs) is appended here when it lands.
 *
 * @module
 */

import { limitsSuite, matrixSuite, stopSuite, type Suite } from "./suites.ts";

/** The suites, in order. */
export const SUITES: readonly Suite[] = [matrixSuite, limitsSuite, stopSuite];
