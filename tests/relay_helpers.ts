/**
 * Shared fixtures of the relay end-to-end tests: a relay node on 127.0.0.1 (TCP + WS) with
 * hopd's relay mounted, stock js-libp2p clients (circuitRelayTransport), and a raw hop
 * client that speaks the wire protocol by hand to read exact statuses.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "../src/clock/mod.ts";
import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { Connection, Libp2p, Stream } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import type { Multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { MetricsRegistry } from "../src/metrics/mod.ts";
import { encodeFrame, FrameReader } from "../src/relay/_framing.ts";
import { HOP_PROTOCOL } from "../src/relay/constants.ts";
import { defaultConfig } from "../src/config/mod.ts";
import { relay, RELAY_EVENTS } from "../src/relay/mod.ts";
import type { Relay, ResolvedRelayConfig } from "../src/relay/mod.ts";
import { decodeHopMessage, encodeHopMessage } from "../src/relay/pb/circuit.ts";
import type { HopMessage } from "../src/relay/pb/circuit.ts";

/** A relay node with hopd's relay mounted. */
export interface RelayFixture {
  node: Libp2p;
  relay: Relay;
  registry: MetricsRegistry;
  tcpAddr: Multiaddr;
  wsAddr: Multiaddr;
  stop(): Promise<void>;
}

/**
 * Starts a relay node on 127.0.0.1 port 0 with TCP and WS.
 *
 * @param overrides Relay config overrides.
 * @param clock The relay's clock (a test may drive its timeouts). @default SYSTEM_CLOCK
 */
export async function startRelay(
  overrides: Partial<ResolvedRelayConfig> = {},
  clock: Clock = SYSTEM_CLOCK,
): Promise<RelayFixture> {
  const privateKey = await generateKeyPair("Ed25519");
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/tcp/0/ws"] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    // Every test client connects from 127.0.0.1; the default 5/s per-IP rate limit would bite.
    connectionManager: { inboundConnectionThreshold: 10_000, maxConnections: 10_000 },
  });
  const registry = new MetricsRegistry();
  const service = relay({ ...defaultConfig().relay, ...overrides })({
    libp2p: node,
    registry,
    privateKeyProtobuf: privateKeyToProtobuf(privateKey),
    clock,
  });
  await service.start();
  const addrs = node.getMultiaddrs();
  const tcpAddr = addrs.find((a) => !a.toString().includes("/ws"));
  const wsAddr = addrs.find((a) => a.toString().includes("/ws"));
  if (tcpAddr === undefined || wsAddr === undefined) throw new Error("relay has no addrs");
  return {
    node,
    relay: service,
    registry,
    tcpAddr,
    wsAddr,
    async stop() {
      await service.stop();
      await node.stop();
    },
  };
}

/** A stock js-libp2p client with the stock circuit relay transport. */
export async function startStockClient(listen: string[] = []): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
  });
}

/** A plain client (no relay transport) for raw hop exchanges. */
export async function startPlainClient(): Promise<Libp2p> {
  return await createLibp2p({
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
  });
}

/**
 * Sends one hop message on a fresh stream and reads the answer.
 *
 * @returns The answer and the stream (left open for CONNECT).
 */
export async function hopExchange(
  connection: Connection,
  request: HopMessage,
): Promise<{ response: HopMessage; stream: Stream; reader: FrameReader }> {
  const stream = await connection.newStream(HOP_PROTOCOL);
  const reader = new FrameReader(stream, 4096);
  stream.send(encodeFrame(encodeHopMessage(request)));
  const response = decodeHopMessage(await reader.read());
  return { response, stream, reader };
}

/**
 * Waits until `check` holds of the relay's state: checked now and after each of its events
 * (`RELAY_EVENTS`: a reservation, a circuit, a stream error changed), never on a timer.
 *
 * @param relay The relay whose events to follow.
 * @param check Reads `relay.stats()` (or anything the events change).
 * @param timeoutMs Real time after which it gives up: a bound that turns a change that never
 * comes into a failure, not a wait. @default 10_000
 * @returns Whether it held, as told by an event (false at the bound, even if it holds by then).
 */
export function untilRelay(
  relay: Relay,
  check: () => boolean,
  timeoutMs = 10_000,
): Promise<boolean> {
  if (check()) return Promise.resolve(true);
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const types = Object.values(RELAY_EVENTS);
  const finish = (held: boolean) => {
    clearTimeout(timer);
    for (const type of types) relay.events.removeEventListener(type, onEvent);
    resolve(held);
  };
  const onEvent = () => {
    if (check()) finish(true);
  };
  // No last look at the bound: a change the relay did not tell of is a failure too.
  const timer = setTimeout(() => finish(false), timeoutMs);
  for (const type of types) relay.events.addEventListener(type, onEvent);
  return promise;
}

/**
 * Resolves when `node` closes `connection` (its `connection:close` event), or with false when
 * `timeoutMs` pass first (a bound on a failure, not a wait).
 */
export function connectionClosed(
  node: Libp2p,
  connection: Connection,
  timeoutMs = 10_000,
): Promise<boolean> {
  if (connection.status !== "open") return Promise.resolve(true);
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const onClose = (event: CustomEvent<Connection>) => {
    if (event.detail.id === connection.id) finish(true);
  };
  const finish = (closed: boolean) => {
    clearTimeout(timer);
    node.removeEventListener("connection:close", onClose);
    resolve(closed);
  };
  const timer = setTimeout(() => finish(false), timeoutMs);
  node.addEventListener("connection:close", onClose);
  return promise;
}

/** Reads the value of a metric sample from the registry, 0 when absent. */
export async function metricValue(
  registry: MetricsRegistry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const sample = (await registry.values(name)).find((v) =>
    Object.entries(labels).every(([k, val]) => v.labels[k] === val) && v.metricName === undefined
  );
  return sample?.value ?? 0;
}
