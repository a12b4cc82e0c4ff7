// A stock js-libp2p node (none of hopd's code) that pings one multiaddr and prints
// {"rttMs": n} or {"error": "..."}. Run as a subprocess so a test can give it its own
// trust store (DENO_CERT) for WebSockets over TLS.
import { identify } from "@libp2p/identify";
import { noise } from "@libp2p/noise";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

const node = await createLibp2p({
  transports: [tcp(), webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
  connectionGater: { denyDialMultiaddr: () => false },
});
let code = 0;
try {
  console.log(JSON.stringify({ rttMs: await node.services.ping.ping(multiaddr(Deno.args[0]!)) }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error) }));
  code = 1;
}
await node.stop();
Deno.exit(code);
