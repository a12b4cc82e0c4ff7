/**
 * hopd's own listen addresses count as confirmed, also on a public IP.
 *
 * js-libp2p 3.x keeps a listen address on a public IP *unverified* until AutoNAT confirms it
 * from outside, and leaves unverified addresses out of `getMultiaddrs()`. hopd runs no AutoNAT
 * client, so a relay listening on its public IP without `node.announce` would answer RESERVE
 * with no relay address and tell identify it listens nowhere (found in the NAT lab,
 * tests/_helpers/netns.ts, where hopd listens on a public address). A relay's listeners are
 * public by configuration: this service confirms each address a listener reports, as the
 * address manager's own `confirmObservedAddr(addr, { type: "transport" })` does when AutoNAT
 * succeeds.
 *
 * It reaches into libp2p's internal components (the address and transport managers), so it
 * checks their shape first and, when an upgrade changes it, leaves libp2p as it is and says
 * so (`createHost` logs a warning at start; src/host/own_addrs_test.ts fails). Version guard:
 * js-libp2p 3.3.11 (versions.ts).
 *
 * Upstream: libp2p could take a flag to trust its own listen addresses (as go-libp2p does for
 * addresses it listens on directly); until then, this.
 *
 * @module
 */

import type { Libp2pEvents, Startable, TypedEventTarget } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { libp2pChecked } from "./versions.ts";

/** The parts of libp2p's components this service uses. */
export interface OwnAddrsComponents {
  readonly events: TypedEventTarget<Libp2pEvents>;
  readonly transportManager: unknown;
  readonly addressManager: unknown;
}

interface AddressManagerShape {
  confirmObservedAddr(addr: Multiaddr, options?: { type?: string }): void;
}

interface TransportManagerShape {
  getAddrs(): Multiaddr[];
}

/** The service: whether it could act, for the host's warning and the tests. */
export interface OwnAddrs extends Startable {
  /**
   * False when libp2p's components do not have the expected shape, or another js-libp2p runs
   * (nothing is confirmed).
   */
  readonly active: boolean;
}

function hasMethod(value: unknown, name: string): boolean {
  return typeof value === "object" && value !== null &&
    typeof (value as Record<string, unknown>)[name] === "function";
}

/**
 * libp2p service factory for {@linkcode OwnAddrs}.
 *
 * @returns The service factory.
 */
export function ownAddrsConfirmed(): (components: OwnAddrsComponents) => OwnAddrs {
  return (components) => {
    const { events, transportManager, addressManager } = components;
    const active = libp2pChecked() && hasMethod(addressManager, "confirmObservedAddr") &&
      hasMethod(transportManager, "getAddrs");
    const confirm = (): void => {
      if (!active) return;
      const addresses = addressManager as AddressManagerShape;
      for (const addr of (transportManager as TransportManagerShape).getAddrs()) {
        addresses.confirmObservedAddr(addr, { type: "transport" });
      }
    };
    return {
      active,
      start() {
        events.addEventListener("transport:listening", confirm);
      },
      afterStart() {
        // Listeners that were up before this service started.
        confirm();
      },
      stop() {
        events.removeEventListener("transport:listening", confirm);
      },
    };
  };
}
