// The flood side of bench/flood_throughput.ts: for --seconds, from its own process, it
// (a) opens and drops raw TCP connections to --tcp as fast as it can (no handshake: the
// cheapest attack, hitting the connection gate), and (b) keeps --peers stock libp2p nodes
// with fresh peer IDs dialing --relay and trying to reserve (hitting the handshake and the
// reservation limits). Prints one JSON line of counts.
// @ts-types="../../tests/interop/relay_echo_client.d.ts"
import { createClient } from "../../tests/interop/relay_echo_client.mjs";

function arg(name: string, fallback?: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  const value = at >= 0 ? Deno.args[at + 1] : fallback;
  if (value === undefined) throw new TypeError(`--${name} is required`);
  return value;
}

const seconds = Number(arg("seconds", "10"));
const [host, port] = [arg("tcp").replace(/:(\d+)$/, ""), Number(/:(\d+)$/.exec(arg("tcp"))![1])];
const relay = arg("relay");
const peers = Number(arg("peers", "20"));
const deadline = Date.now() + seconds * 1000;
let rawOpened = 0;
let rawFailed = 0;
let reserveAttempts = 0;
let reserveGranted = 0;

async function rawFlood(): Promise<void> {
  while (Date.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: host.replace(/^\[|\]$/g, ""), port });
      rawOpened++;
      conn.close();
    } catch {
      rawFailed++;
    }
  }
}

async function reserveFlood(): Promise<void> {
  while (Date.now() < deadline) {
    reserveAttempts++;
    // Listening on <relay>/p2p-circuit makes the stock client dial and RESERVE during start;
    // a refused reservation makes start fail.
    try {
      const node = await createClient([`${relay}/p2p-circuit`]);
      if (node.getMultiaddrs().some((ma) => ma.toString().includes("/p2p-circuit"))) {
        reserveGranted++;
      }
      await node.stop();
    } catch {
      // refused: the point of the flood
    }
  }
}

await Promise.all([
  rawFlood(),
  rawFlood(),
  ...Array.from({ length: Math.min(peers, 4) }, reserveFlood),
]);
console.log(JSON.stringify({ rawOpened, rawFailed, reserveAttempts, reserveGranted }));
Deno.exit(0);
