// A stock js-libp2p node (none of hopd's code) that dials one multiaddr over WebSockets
// (with TLS: trust comes from DENO_CERT) and keeps that one connection. Each line on stdin
// pings the relay over it and prints {"rttMs", "connectionId", "status", "connections"};
// stdin's end stops it. Used by tests/acme_e2e_test.ts to hold a /tls/ws connection across
// a certificate renewal.
import { identify } from "@libp2p/identify";
import { noise } from "@libp2p/noise";
import { ping } from "@libp2p/ping";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

const node = await createLibp2p({
  transports: [webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
  connectionGater: { denyDialMultiaddr: () => false },
  connectionMonitor: { enabled: false },
});
const report = (fields: Record<string, unknown>) => console.log(JSON.stringify(fields));
let connection;
try {
  connection = await node.dial(multiaddr(Deno.args[0]!));
} catch (error) {
  report({ error: String(error) });
  await node.stop();
  Deno.exit(1);
}
for await (const _line of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  try {
    const rttMs = await node.services.ping.ping(connection.remotePeer);
    report({
      rttMs,
      connectionId: connection.id,
      status: connection.status,
      connections: node.getConnections().map((c) => c.id),
    });
  } catch (error) {
    report({ error: String(error), status: connection.status });
  }
}
await node.stop();
