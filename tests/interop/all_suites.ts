/**
 * Every interop suite, in the lanes `deno task interop` runs them in: the lanes run at once,
 * each its suites one after another. The hole-punch suite (./holepunch.ts), with clients
 * behind NATs in network namespaces, has a lane of its own: its cases mostly wait on timers
 * (a client's wait for a direct connection, hopd's duration limit), so it runs beside the
 * loopback suites instead of after them. The AutoNAT suite (./autonat.ts: NAT labs too, its
 * cases waiting on a go node) ends the loopback lane, the shorter one.
 *
 * @module
 */

import { autonatSuite } from "./autonat.ts";
import { bulkSuite } from "./bulk.ts";
import { holepunchSuite } from "./holepunch.ts";
import { limitsSuite, matrixSuite, stopSuite, type Suite } from "./suites.ts";

/** The lanes: run at once, each its suites in order. */
export const SUITE_LANES: readonly (readonly Suite[])[] = [
  [matrixSuite, limitsSuite, stopSuite, bulkSuite, autonatSuite],
  [holepunchSuite],
];
