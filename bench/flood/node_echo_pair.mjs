// The well-behaved side of bench/flood_throughput.ts in its "node" regime (issue 15 item 9):
// the stock js-libp2p 3.3 client pair run under Node 20 as the probes ran it (the
// polyfills of tests/_helpers/node20_polyfills.mjs), A reserving on the relay and serving echo,
// B holding one circuit to A. `--stream-per-trip` opens a new echo stream for every 1 KiB round
// trip (write, close the write side, read the echo to its end); otherwise one stream carries
// every round trip. Protocol on stdin/stdout, one JSON line each:
//   node bench/flood/node_echo_pair.mjs RELAY_ADDR [--stream-per-trip] [--bytes 1024]
//   stdin "SECONDS\n" -> stdout {"roundTripsPerSecond":..,"trips":..,"p50Ms":..,"p99Ms":..}
import "../../tests/_helpers/node20_polyfills.mjs";
import { createInterface } from "node:readline";

const { createClient, ECHO_PROTOCOL, serveEcho, waitForCircuitAddr } = await import(
  "../../tests/interop/relay_echo_client.mjs"
);
const { multiaddr } = await import("@multiformats/multiaddr");

const args = process.argv.slice(2);
const relayAddr = args[0];
const perTrip = args.includes("--stream-per-trip");
const bytes = args.includes("--bytes") ? Number(args[args.indexOf("--bytes") + 1]) : 1024;

const a = await createClient([`${relayAddr}/p2p-circuit`]);
const b = await createClient();
await serveEcho(a);
const circuitAddr = multiaddr((await waitForCircuitAddr(a)).toString());
const open = () => b.dialProtocol(circuitAddr, ECHO_PROTOCOL, { runOnLimitedConnection: true });
const payload = new Uint8Array(bytes);
const received = new Uint8Array(bytes);
const held = perTrip ? undefined : await open();
const chunks = held?.[Symbol.asyncIterator]();

// The round trip as echo_pair.ts's, restated: Node 20 runs this file and cannot import the .ts one.
async function roundTrip() {
  crypto.getRandomValues(payload);
  const stream = held ?? await open();
  const reader = chunks ?? stream[Symbol.asyncIterator]();
  if (!stream.send(payload)) await stream.onDrain();
  if (perTrip) await stream.close();
  let got = 0;
  while (got < bytes) {
    const next = await reader.next();
    if (next.done) throw new Error("echo stream ended");
    const chunk = next.value.subarray();
    if (got + chunk.byteLength > bytes) throw new Error("echo returned too many bytes");
    received.set(chunk, got);
    got += chunk.byteLength;
  }
  if (perTrip) await reader.next(); // the echo's end: A closed its side
  for (let i = 0; i < bytes; i++) {
    if (received[i] !== payload[i]) throw new Error("echo came back damaged");
  }
}

async function measure(seconds) {
  const times = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    const at = performance.now();
    await roundTrip();
    times.push(performance.now() - at);
  }
  const elapsed = (performance.now() - started) / 1000;
  times.sort((x, y) => x - y);
  const at = (q) =>
    Number(times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2));
  return {
    roundTripsPerSecond: times.length / elapsed,
    trips: times.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

console.log(JSON.stringify({ ready: true, runtime: `node ${process.version}` }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === "") break;
  console.log(JSON.stringify(await measure(Number(line))));
}
await Promise.allSettled([a.stop(), b.stop()]);
process.exit(0);
