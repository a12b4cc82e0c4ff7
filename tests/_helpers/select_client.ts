// A stock js-libp2p client as an app would build it for the federation: TCP, the stock
// circuit relay transport listening on /p2p-circuit (it reserves on a relay it is connected
// to), Noise, Yamux, identify. Used with src/federation/client/select_relay.ts.

import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { yamux } from "@libp2p/yamux";
import { createLibp2p } from "libp2p";

/** Starts a stock client that will reserve on whichever relay it gets connected to. */
export async function startSelectClient(privateKey?: PrivateKey): Promise<Libp2p> {
  return await createLibp2p({
    ...(privateKey === undefined ? {} : { privateKey }),
    addresses: { listen: ["/p2p-circuit"] },
    transports: [tcp(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionGater: { denyDialMultiaddr: () => false },
  });
}

/** Peer IDs holding a reservation on a hopd (admin API, loopback caller). */
export async function reservedPeers(opsUrl: string): Promise<string[]> {
  const response = await fetch(`${opsUrl}/v1/admin/reservations?limit=1000`);
  const body = await response.json() as { items: { peer: string }[] };
  return body.items.map((item) => item.peer);
}
