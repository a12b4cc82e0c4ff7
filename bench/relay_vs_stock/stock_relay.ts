// The STOCK js-libp2p circuit relay v2 server (none of hopd's code), run in its own process
// so bench/relay_vs_stock.ts can read its CPU time and RSS from /proc. Limits are off:
// no default circuit limit, a reservation cap far above any count the bench reaches, and a
// connection manager that neither prunes nor rate-limits loopback peers.
//
//   deno run -A bench/relay_vs_stock/stock_relay.ts [--ip6]
//
// --ip6 adds a listener on ::1 (bench/flood_throughput.ts's attacker floods it from there).
//
// Prints one JSON line {"ready":true,"peerId":...,"addrs":[...]} on stdout once listening,
// answers {"heap":true} on stdin with {"heapUsedBytes":N} (hopd shows the same figure as
// nodejs_heap_size_used_bytes on /metrics), and runs until SIGTERM/SIGINT.

import { circuitRelayServer } from "@libp2p/circuit-relay-v2";
import { identify } from "@libp2p/identify";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { createLibp2p } from "libp2p";
import { emit, jsonLines } from "./_lines.ts";

const LARGE = 1_000_000;

const node = await createLibp2p({
  addresses: {
    listen: [
      "/ip4/127.0.0.1/tcp/0",
      "/ip4/127.0.0.1/tcp/0/ws",
      ...(Deno.args.includes("--ip6") ? ["/ip6/::1/tcp/0"] : []),
    ],
  },
  transports: [tcp(), webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    relay: circuitRelayServer({
      reservations: { maxReservations: LARGE, applyDefaultLimit: false },
    }),
  },
  connectionManager: {
    maxConnections: LARGE,
    inboundConnectionThreshold: LARGE,
    // hopd's connections.max_pending_inbound default, so both accept handshakes alike.
    maxIncomingPendingConnections: 512,
  },
});

emit({ ready: true, peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) });

const stop = async () => {
  await node.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

for await (const command of jsonLines(Deno.stdin.readable)) {
  if (command.heap === true) emit({ heapUsedBytes: Deno.memoryUsage().heapUsed });
}
