// The load generator of bench/autonat_cost.ts, run inside a NAT lab namespace: one stock
// js-libp2p node (TCP, Noise, yamux, identify) that listens, connects to hopd and then opens
// N streams over that one connection, `--concurrency` at a time: AutoNAT v1 DIAL requests
// for its own listen address (`--mode autonat`), or libp2p pings (`--mode ping`, the
// baseline: a stream opened and answered with no dial-back). Prints one JSON line.
//
//   deno run -A bench/autonat/_requester.ts --relay ADDR --ip IP --n 200 --mode autonat \
//     --concurrency 4
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { lpStream } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import { loopbackNode } from "../../src/host/testing.ts";
import { decodeAutonatMessage, encodeAutonatMessage } from "../../src/autonat/pb/autonat.ts";
import { AUTONAT_PROTOCOL } from "../../src/autonat/constants.ts";
import { numberArg } from "../_args.ts";

const relay = Deno.args[Deno.args.indexOf("--relay") + 1]!;
const mode = Deno.args[Deno.args.indexOf("--mode") + 1] === "ping" ? "ping" : "autonat";
const n = numberArg("--n", 100);
const concurrency = numberArg("--concurrency", 1);

const node = await loopbackNode({
  addresses: { listen: ["/ip4/0.0.0.0/tcp/0"] },
  services: { identify: identify(), ping: ping() },
  // Every dial-back comes from hopd's IP: js-libp2p's default 5 per IP per second would
  // refuse most of them.
  connectionManager: { inboundConnectionThreshold: Number.MAX_SAFE_INTEGER },
});
const connection = await node.dial(multiaddr(relay));
// js-libp2p leaves a listen address on a public IP out of getMultiaddrs() until it is
// verified: ask about the listening port on the IP this host has (`--ip`).
const ip = Deno.args[Deno.args.indexOf("--ip") + 1]!;
const port = node.getMultiaddrs()[0]!.getComponents().find((c) => c.name === "tcp")!.value;
const own = [multiaddr(`/ip4/${ip}/tcp/${port}`)];
const statuses: Record<string, number> = {};
let lastText = "";
let next = 0;
const started = performance.now();

async function one(): Promise<string> {
  if (mode === "ping") {
    await node.services.ping.ping(connection.remoteAddr);
    return "pong";
  }
  const stream = await connection.newStream(AUTONAT_PROTOCOL);
  const framed = lpStream(stream);
  await framed.write(encodeAutonatMessage({
    type: "DIAL",
    dial: { peer: { id: node.peerId.toMultihash().bytes, addrs: own.map((a) => a.bytes) } },
  }));
  const answer = decodeAutonatMessage(await framed.read());
  await stream.close();
  const status = answer.dialResponse?.status ?? "none";
  if (status !== "OK") lastText = answer.dialResponse?.statusText ?? "";
  return status;
}

await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < n) {
    next++;
    const status = await one().catch((error) => `error: ${(error as Error).message}`);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
}));
const wallMs = Math.round(performance.now() - started);
console.log(JSON.stringify({ mode, n, statuses, lastText, wallMs }));
// libp2p's stop can wait on the relay's side of the connection; the result is out.
await Promise.race([node.stop(), new Promise((resolve) => setTimeout(resolve, 1_000))]);
Deno.exit(0);
