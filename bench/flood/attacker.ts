// The flood side of bench/flood_throughput.ts: for --seconds, from its own process, it
// (a) runs --raw loops (default 2) opening and dropping raw TCP connections to --tcp as fast
// as they can (no handshake: the cheapest attack, hitting the connection gate), and (b) runs
// --peers loops (default 4) of stock libp2p nodes with fresh peer IDs dialing --relay and
// trying to reserve (hitting the handshake and the reservation limits). Issue 15 item 9's
// probe is `--raw 0 --peers 50`. Prints one JSON line of counts.
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
const raws = Number(arg("raw", "2"));
const peers = Number(arg("peers", "4"));
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
  ...Array.from({ length: raws }, rawFlood),
  ...Array.from({ length: peers }, reserveFlood),
]);
console.log(JSON.stringify({ rawOpened, rawFailed, reserveAttempts, reserveGranted }));
Deno.exit(0);
