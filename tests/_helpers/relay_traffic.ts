// One-way relayed traffic between stock js-libp2p clients, for measuring hopd's bandwidth
// caps: a target reserves on hopd and counts the bytes it sinks; an initiator dials it
// through the relay and pushes as fast as the stream lets it.
import type { Libp2p, Stream } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
// @ts-types="../interop/relay_echo_client.d.ts"
import { createClient, waitForCircuitAddr } from "../interop/relay_echo_client.mjs";
import { Arrivals } from "./ops_probe.ts";

/** Protocol of the byte sink: every byte read is counted and dropped. */
export const SINK_PROTOCOL = "/hopd-test/sink/1.0.0";

/** A reserved target that counts what it receives. */
export interface SinkTarget {
  readonly node: Libp2p;
  /** Its /p2p-circuit address through hopd. */
  readonly circuitAddr: string;
  /** Bytes received so far over every sink stream. */
  received(): number;
  /**
   * Resolves once {@linkcode SinkTarget.received} reaches `bytes`, checked on each chunk as it
   * arrives (not polled).
   *
   * @returns Whether it did within `timeoutMs`.
   */
  receivedAtLeast(bytes: number, timeoutMs: number): Promise<boolean>;
}

/**
 * Starts a stock client that reserves on `relayAddr` and serves {@linkcode SINK_PROTOCOL}.
 *
 * @param relayAddr hopd's multiaddr (with /p2p/<id>).
 * @returns The target; stop its node when done.
 */
export async function startSinkTarget(relayAddr: string): Promise<SinkTarget> {
  const node = await createClient([`${relayAddr}/p2p-circuit`]);
  let received = 0;
  const arrivals = new Arrivals();
  await node.handle(SINK_PROTOCOL, async (stream: Stream) => {
    try {
      for await (const chunk of stream) {
        received += chunk.byteLength;
        arrivals.arrived();
      }
    } catch {
      // The pusher resets its stream when the test ends.
    }
  }, { runOnLimitedConnection: true });
  const circuitAddr = (await waitForCircuitAddr(node)).toString();
  return {
    node,
    circuitAddr,
    received: () => received,
    receivedAtLeast: (bytes, timeoutMs) => arrivals.until(() => received >= bytes, timeoutMs),
  };
}

/** A flat-out push over one open circuit. */
export interface Push {
  /** Starts pushing (once). */
  start(): void;
  /** Stops pushing and resets the stream; resolves when the push loop has ended. */
  stop(): Promise<void>;
}

/** Bytes the pusher lets queue in its stream before it waits for a drain. */
const MAX_QUEUED_BYTES = 256 * 1024;

/**
 * Waits for the stream's next 'drain' (or its close). Not `stream.onDrain()`: in
 * @libp2p/utils 7.4.1 its promise is never renewed after the first drain, so later calls
 * resolve at once and a push loop spins in microtasks, starving every timer.
 */
function drained(stream: Stream): Promise<void> {
  if (!stream.writableNeedsDrain && stream.writeBufferLength <= MAX_QUEUED_BYTES) {
    // Refused for another reason (closing): give the event loop a turn and re-check.
    return new Promise((resolve) => setTimeout(resolve, 1));
  }
  return new Promise((resolve) => {
    const done = () => {
      stream.removeEventListener("drain", done);
      stream.removeEventListener("idle", done);
      stream.removeEventListener("close", done);
      resolve();
    };
    stream.addEventListener("drain", done);
    stream.addEventListener("idle", done);
    stream.addEventListener("close", done);
  });
}

/**
 * Dials `target` through the relay from `initiator`; once started, pushes 16 KiB chunks as
 * fast as backpressure allows, until stopped. Open every circuit before starting any push:
 * a saturated relay connection slows new circuits' setup.
 *
 * @param initiator The dialling node (the peer the relay charges).
 * @param target The sink.
 * @returns The push, not yet started.
 */
export async function openPush(initiator: Libp2p, target: SinkTarget): Promise<Push> {
  const stream = await initiator.dialProtocol(multiaddr(target.circuitAddr), SINK_PROTOCOL, {
    runOnLimitedConnection: true,
  });
  const chunk = new Uint8Array(16_384);
  crypto.getRandomValues(chunk);
  let running = true;
  let loop: Promise<void> | undefined;
  return {
    start() {
      loop ??= (async () => {
        try {
          while (running && stream.writeStatus === "writable") {
            if (!stream.send(chunk) || stream.writeBufferLength > MAX_QUEUED_BYTES) {
              await drained(stream);
            }
          }
        } catch {
          // Reset by stop() or by the peer.
        }
      })();
    },
    async stop() {
      running = false;
      stream.abort(new Error("push stopped"));
      await loop;
    },
  };
}

/**
 * Samples the byte counters of `targets` at `fromMs` and `toMs` after now and returns each
 * target's rate over that window in bytes per second (the start skips the initial burst and
 * the buffers filling up).
 */
export async function measureRates(
  targets: readonly SinkTarget[],
  fromMs: number,
  toMs: number,
): Promise<number[]> {
  // A rate is bytes over real time: the window is what is measured, not a wait for an event.
  await new Promise((resolve) => setTimeout(resolve, fromMs));
  const startedAt = performance.now();
  const before = targets.map((t) => t.received());
  await new Promise((resolve) => setTimeout(resolve, toMs - fromMs));
  const seconds = (performance.now() - startedAt) / 1000;
  return targets.map((t, i) => (t.received() - before[i]!) / seconds);
}
