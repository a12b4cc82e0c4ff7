// The well-behaved side of bench/flood_throughput.ts in its "echo" mode (issue 15 item 9's
// probe): a stock js-libp2p client pair, A reserving on the relay and serving echo, B holding
// one circuit to A with one echo stream open, through which it sends 1 KiB and waits for it
// to come back, one round trip after another. The rate of round trips is latency-bound: it
// falls as soon as the relay's event loop (or the machine) is busy elsewhere.
// @ts-types="../../tests/interop/relay_echo_client.d.ts"
import {
  createClient,
  ECHO_PROTOCOL,
  serveEcho,
  waitForCircuitAddr,
} from "../../tests/interop/relay_echo_client.mjs";
import { multiaddr } from "@multiformats/multiaddr";
import type { Libp2p, Stream } from "@libp2p/interface";

/** One circuit of echo round trips, kept open between measurements. */
export interface EchoPair {
  /** Round trips of `bytes` per second over `seconds`; throws if an echo comes back damaged. */
  roundTripsPerSecond(seconds: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Reserves on `relayAddr` with A, dials A through it from B and opens one echo stream.
 *
 * @param relayAddr The relay's multiaddr (with /p2p/).
 * @param bytes Size of each round trip's payload.
 * @returns The pair.
 */
export async function openEchoPair(relayAddr: string, bytes = 1024): Promise<EchoPair> {
  const a: Libp2p = await createClient([`${relayAddr}/p2p-circuit`]);
  const b: Libp2p = await createClient();
  await serveEcho(a);
  const circuitAddr = await waitForCircuitAddr(a);
  const stream: Stream = await b.dialProtocol(multiaddr(circuitAddr.toString()), ECHO_PROTOCOL, {
    runOnLimitedConnection: true,
  });
  const chunks = (stream as unknown as AsyncIterable<{ subarray(): Uint8Array }>)[
    Symbol.asyncIterator
  ]();
  const payload = new Uint8Array(bytes);
  const received = new Uint8Array(bytes);
  async function roundTrip(): Promise<void> {
    crypto.getRandomValues(payload);
    if (!stream.send(payload)) await stream.onDrain();
    let got = 0;
    while (got < bytes) {
      const next = await chunks.next();
      if (next.done) throw new Error("echo stream ended");
      const chunk = next.value.subarray();
      if (got + chunk.byteLength > bytes) throw new Error("echo returned too many bytes");
      received.set(chunk, got);
      got += chunk.byteLength;
    }
    for (let i = 0; i < bytes; i++) {
      if (received[i] !== payload[i]) throw new Error("echo came back damaged");
    }
  }
  return {
    async roundTripsPerSecond(seconds) {
      const started = performance.now();
      const until = started + seconds * 1000;
      let count = 0;
      while (performance.now() < until) {
        await roundTrip();
        count++;
      }
      return count / ((performance.now() - started) / 1000);
    },
    async close() {
      await Promise.allSettled([a.stop(), b.stop()]);
    },
  };
}
