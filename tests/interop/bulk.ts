/**
 * The `bulk` interop suite: 128 MiB echoed both ways through hopd to a rust-libp2p listener
 * (from a rust and a go dialer), with hopd's circuit limits off. A bulk transfer makes
 * the receiver's yamux grow its window and hopd queue bytes for it; @libp2p/yamux then sent
 * frames as large as the window, and rust-libp2p's yamux closes a connection on any frame
 * above 1 MiB: the echo died after 75–110 MB (src/host/yamux_frames.ts caps hopd's frames).
 * The 1 MiB echo of the matrix never got there.
 *
 * No js dialer: a js-libp2p client's own yamux, over the relayed connection, sends the same
 * oversized frames to the rust listener end to end, which no relay can change (node->rust
 * dies the same way through go-libp2p's relay; docs/INTEROP.md).
 *
 * @module
 */

import type { ClientName } from "./clients.ts";
import { runPair } from "./pair.ts";
import {
  type Case,
  echoChecks,
  MIB,
  pairDetail,
  relayAddr,
  startHopd,
  type Suite,
} from "./suites.ts";

const BULK_BYTES = 128 * MIB;
const DIALERS: readonly ClientName[] = ["rust", "go"];

/** A rust listener echoing 128 MiB from each dialer kind, over TCP. */
export const bulkSuite: Suite = {
  name: "bulk",
  async prepare({ clients }) {
    const hopd = await startHopd({ HOPD_RELAY_CIRCUIT_DATA: "0" });
    const listener = clients.get("rust");
    const cases: Case[] = [];
    for (const name of DIALERS) {
      const dialer = clients.get(name);
      if (listener === undefined || dialer === undefined) continue;
      const label = `${dialer.name}->${listener.name} via hopd over tcp`;
      cases.push({
        name: label,
        async run() {
          const outcome = await runPair({
            listener,
            dialer,
            relay: relayAddr(hopd, "tcp"),
            echoBytes: BULK_BYTES,
            timeoutS: 120,
          });
          const checks = echoChecks(outcome, BULK_BYTES);
          const ms = outcome.dialer?.result?.echo?.ms;
          return {
            ok: checks.problems.length === 0,
            line: `interop bulk ${label}: echo ${BULK_BYTES / MIB}MiB ${checks.echo}` +
              (ms === undefined ? "" : ` (${Math.round(ms)} ms)`),
            detail: checks.problems.length === 0
              ? undefined
              : `${checks.problems.join("\n")}\n${pairDetail(outcome)}`,
          };
        },
      });
    }
    return { cases, close: async () => void await hopd.stop() };
  },
};
