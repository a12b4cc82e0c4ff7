/**
 * Client helper for js-libp2p apps (browser or Node): ask a hopd federation which relay to
 * use, reserve on the best one with the stock circuit relay transport, and move to another
 * relay when it goes away. It depends only on libp2p's public interfaces and `fetch`.
 *
 * The app's node listens on `/p2p-circuit` with `circuitRelayTransport()` (the stock
 * transport then reserves a slot on the first relay it is connected to that speaks hop);
 * this helper picks that relay: it calls `GET /v1/select` on any federation member (or
 * `/hopd/select/1.0.0` on a relay it is connected to), dials the best relay, and waits for
 * the reservation's `/p2p-circuit` address. A relay that cannot be reached, or refuses, is
 * hung up on and the next one is tried.
 *
 * @example
 * ```ts ignore
 * import { createLibp2p } from "libp2p";
 * import { circuitRelayTransport } from "@libp2p/circuit-relay-v2";
 * import { keepRelayReservation } from "./select_relay.ts";
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ["/p2p-circuit"] },
 *   transports: [webSockets(), circuitRelayTransport()],
 *   // … encrypters, muxers, identify
 * });
 * const keeper = keepRelayReservation(node, { urls: ["https://relay1.example.net:8443"] });
 * const relay = await keeper.ready; // { peerId, addrs, score }
 * ```
 *
 * @module
 */

import { abortAfter, type Clock, SYSTEM_CLOCK, type TimerId } from "../../clock/mod.ts";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Algorithm } from "../../balancer/mod.ts";

/** The libp2p protocol of relay selection. */
export const SELECT_PROTOCOL = "/hopd/select/1.0.0";

/** A relay the federation proposed. */
export interface SelectedRelay {
  readonly peerId: string;
  /** Multiaddrs to dial, with /p2p/<peer id>. */
  readonly addrs: readonly string[];
  readonly score: number;
  readonly region?: string;
}

/** What the client tells the federation about itself. */
export interface RelayHints {
  /** The client's peer ID (the affinity key); the helpers pass the node's own by default. */
  readonly peer?: string;
  readonly region?: string;
  readonly lat?: number;
  readonly lon?: number;
  /** How many candidates to ask for. @default 3 */
  readonly n?: number;
  readonly algorithm?: Algorithm;
}

/** Where to ask and how. */
export interface SelectRelayOptions extends RelayHints {
  /** Base URLs of federation members' ops servers, asked in order until one answers. */
  readonly urls: readonly string[];
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Per-request timeout. @default 5_000 */
  readonly timeoutMs?: number;
  /** The timeouts and retry delays run on it. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

/** A failure of the helper: no member answered, or no relay took the reservation. */
export class SelectRelayError extends Error {
  override name = "SelectRelayError";
}

function query(hints: RelayHints): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(hints)) {
    if (value !== undefined && ["peer", "region", "lat", "lon", "n", "algorithm"].includes(key)) {
      params.set(key, String(value));
    }
  }
  return params.toString();
}

/**
 * Asks the federation over HTTP for the best relays.
 *
 * @param options Members to ask and the client's hints.
 * @returns The relays, best first.
 * @throws {SelectRelayError} When no member answered with a selection.
 */
export async function selectRelays(options: SelectRelayOptions): Promise<SelectedRelay[]> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const errors: string[] = [];
  for (const url of options.urls) {
    const timeout = abortAfter(options.clock ?? SYSTEM_CLOCK, options.timeoutMs ?? 5_000);
    try {
      const response = await doFetch(`${url.replace(/\/$/, "")}/v1/select?${query(options)}`, {
        signal: timeout.signal,
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
      return body.relays as SelectedRelay[];
    } catch (error) {
      errors.push(`${url}: ${(error as Error).message}`);
    } finally {
      timeout.clear();
    }
  }
  throw new SelectRelayError(`No federation member answered: ${errors.join("; ")}`);
}

/**
 * Asks a relay the node can reach over `/hopd/select/1.0.0`.
 *
 * @param node The app's node.
 * @param relay The relay's peer ID or multiaddr.
 * @param options The client's hints (peer defaults to the node's ID on the relay side), the
 * request's timeout (5 s unless given) and the clock it runs on (SYSTEM_CLOCK unless given).
 * @returns The relays, best first.
 * @throws {SelectRelayError} When the relay answers with an error.
 */
export async function selectRelaysOverLibp2p(
  node: Libp2p,
  relay: PeerId | Multiaddr,
  options: RelayHints & { readonly timeoutMs?: number; readonly clock?: Clock } = {},
): Promise<SelectedRelay[]> {
  const { timeoutMs = 5_000, clock = SYSTEM_CLOCK, ...hints } = options;
  const timeout = abortAfter(clock, timeoutMs);
  const { signal } = timeout;
  let answer;
  try {
    const stream = await node.dialProtocol(relay, SELECT_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: 256 * 1_024 });
    await lp.write(new TextEncoder().encode(JSON.stringify(hints)), { signal });
    answer = JSON.parse(new TextDecoder().decode((await lp.read({ signal })).subarray()));
    await stream.close({ signal }).catch(() => {});
  } finally {
    timeout.clear();
  }
  if (answer.error !== undefined) {
    throw new SelectRelayError(`${answer.error.code}: ${answer.error.message}`);
  }
  return answer.relays as SelectedRelay[];
}

/** Whether the node holds a reservation on `relayPeerId` (it has a circuit address through it). */
export function hasReservationOn(node: Libp2p, relayPeerId: string): boolean {
  return node.getMultiaddrs().some((addr) =>
    addr.toString().includes(`/p2p/${relayPeerId}/p2p-circuit`)
  );
}

/** What {@linkcode waitForReservation} waits for, and how long. */
interface ReservationWait {
  readonly relayPeerId: string;
  readonly timeoutMs: number;
  readonly clock: Clock;
}

async function waitForReservation(
  node: Libp2p,
  { relayPeerId, timeoutMs, clock }: ReservationWait,
): Promise<boolean> {
  if (hasReservationOn(node, relayPeerId)) return true;
  const done = Promise.withResolvers<boolean>();
  const check = () => {
    if (hasReservationOn(node, relayPeerId)) done.resolve(true);
  };
  const timer = clock.setTimeout(() => done.resolve(false), timeoutMs);
  node.addEventListener("self:peer:update", check);
  try {
    return await done.promise;
  } finally {
    clock.clearTimeout(timer);
    node.removeEventListener("self:peer:update", check);
  }
}

/** How {@linkcode reserveViaSelect} picks and reserves. */
export interface ReserveOptions extends SelectRelayOptions {
  /** Relays not to use (a relay just lost, say). */
  readonly exclude?: readonly string[];
  /** Time a relay has to grant the reservation. @default 10_000 */
  readonly reserveTimeoutMs?: number;
}

/**
 * Selects relays and reserves on the first that grants a reservation. The node must listen
 * on `/p2p-circuit` with the stock `circuitRelayTransport()`.
 *
 * @param node The app's node.
 * @param options Members to ask, hints, exclusions.
 * @returns The relay the node now holds a reservation on.
 * @throws {SelectRelayError} When no member answered or no relay granted a reservation.
 */
export async function reserveViaSelect(
  node: Libp2p,
  options: ReserveOptions,
): Promise<SelectedRelay> {
  const relays = (await selectRelays({ peer: node.peerId.toString(), ...options }))
    .filter((relay) => !(options.exclude ?? []).includes(relay.peerId));
  const errors: string[] = [];
  const clock = options.clock ?? SYSTEM_CLOCK;
  for (const relay of relays) {
    const timeout = abortAfter(clock, options.timeoutMs ?? 5_000);
    try {
      const connection = await node.dial(relay.addrs.map((addr) => multiaddr(addr)), {
        signal: timeout.signal,
      });
      timeout.clear();
      const reserveTimeoutMs = options.reserveTimeoutMs ?? 10_000;
      const wait = { relayPeerId: relay.peerId, timeoutMs: reserveTimeoutMs, clock };
      if (await waitForReservation(node, wait)) return relay;
      errors.push(`${relay.peerId}: no reservation`);
      await node.hangUp(connection.remotePeer).catch(() => {});
    } catch (error) {
      errors.push(`${relay.peerId}: ${(error as Error).message}`);
    } finally {
      timeout.clear();
    }
  }
  throw new SelectRelayError(
    relays.length === 0
      ? "The federation proposed no relay"
      : `No proposed relay granted a reservation: ${errors.join("; ")}`,
  );
}

/** A running reservation keeper. */
export interface RelayReservationKeeper {
  /** Resolves with the first relay reserved on (rejects if the first attempt fails). */
  readonly ready: Promise<SelectedRelay>;
  /** The relay currently reserved on. */
  current(): SelectedRelay | undefined;
  /** Stops watching (the reservation itself is left as it is). */
  stop(): void;
}

/** How {@linkcode keepRelayReservation} behaves. */
export interface KeepOptions extends ReserveOptions {
  /** Told each time a reservation is made (the first and every move). */
  readonly onReserved?: (relay: SelectedRelay) => void;
  /** Told when the reserved relay is lost. */
  readonly onLost?: (relay: SelectedRelay) => void;
  /** First retry delay after a failed move; doubles up to 30 s. @default 1_000 */
  readonly retryMs?: number;
}

/**
 * Reserves via select and keeps a reservation: when the relay goes away (connection lost
 * or its circuit address withdrawn), selects again, without it, and reserves on another.
 *
 * @param node The app's node (listening on `/p2p-circuit`).
 * @param options Members to ask, hints and callbacks.
 * @returns The keeper.
 */
export function keepRelayReservation(node: Libp2p, options: KeepOptions): RelayReservationKeeper {
  let current: SelectedRelay | undefined;
  let stopped = false;
  let moving = false;
  const clock = options.clock ?? SYSTEM_CLOCK;
  let timer: TimerId | undefined;
  const lost = new Set<string>();

  const move = async (delayMs: number): Promise<void> => {
    if (stopped) return;
    moving = true;
    try {
      current = await reserveViaSelect(node, { ...options, exclude: [...lost] });
      lost.clear();
      options.onReserved?.(current);
      moving = false;
    } catch {
      // Try again later, longer each time.
      timer = clock.setTimeout(() => void move(Math.min(30_000, delayMs * 2)), delayMs);
    }
  };
  const check = () => {
    if (stopped || moving || current === undefined) return;
    if (hasReservationOn(node, current.peerId)) return;
    const gone = current;
    current = undefined;
    lost.add(gone.peerId);
    options.onLost?.(gone);
    void move(options.retryMs ?? 1_000);
  };
  const onDisconnect = (evt: CustomEvent<PeerId>) => {
    if (current !== undefined && evt.detail.toString() === current.peerId) check();
  };
  node.addEventListener("self:peer:update", check);
  node.addEventListener("peer:disconnect", onDisconnect);
  const ready = reserveViaSelect(node, options).then((relay) => {
    current = relay;
    options.onReserved?.(relay);
    return relay;
  });
  return {
    ready,
    current: () => current,
    stop() {
      stopped = true;
      clock.clearTimeout(timer);
      node.removeEventListener("self:peer:update", check);
      node.removeEventListener("peer:disconnect", onDisconnect);
    },
  };
}
