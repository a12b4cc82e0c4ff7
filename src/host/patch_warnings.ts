/**
 * One warning per workaround that does not apply, per host: each start of hopd says, once,
 * which of src/host/'s workarounds found libp2p of another shape or version and what that
 * costs. A workaround whose shape is known when the host is built (the event emitters, the
 * connection listing, the address manager, the js-libp2p version) warns while it is built, and
 * so do the ones that act on each connection's Noise and yamux objects (patch_probe.ts tries
 * them on a connection in memory); one that checks each listener (the socket guard) warns as the
 * listeners open, during the start; TCP write coalescing, which needs a socket, warns on the
 * first TCP connection it misses. Each connection's objects are still checked, and a miss warns
 * if nothing has for that workaround yet. A new
 * host (a restart in the same process, a test) warns again.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";

/** The workarounds in src/host/ that can find libp2p of another shape. */
export type HostPatch =
  | "coalesce_writes"
  | "noise_decrypt"
  | "yamux_frames"
  | "yamux_window_updates"
  | "lean_events"
  | "connection_list"
  | "peer_store_merges"
  | "own_addrs"
  | "guarded_listeners"
  | "pipelined_stream"
  | "connection_probe";

/** What hopd runs without each workaround (the warning's text). */
export const PATCH_FALLBACKS: Readonly<Record<HostPatch, string>> = {
  coalesce_writes: "@libp2p/tcp's connection changed shape: each Noise message is written " +
    "with one system call per fragment (src/host/coalesce_writes.ts)",
  noise_decrypt: "@libp2p/noise's secured stream changed shape: a Noise message spanning two " +
    "reads is joined before it is decrypted, and every read ends in a thrown RangeError " +
    "(src/host/noise_crypto.ts)",
  yamux_frames: "@libp2p/yamux changed shape: frames are not capped at one Noise message " +
    "(rust-libp2p peers refuse frames above 1 MiB; src/host/yamux_frames.ts), and a new " +
    "stream's SYN is a frame of its own (src/host/yamux_syn.ts)",
  yamux_window_updates: "@libp2p/yamux's stream changed shape: every data frame received is " +
    "answered with its own window update, a Noise message and a socket write, instead of one " +
    "update per half window " +
    "(src/host/yamux_window_updates.ts)",
  lean_events: "main-event's TypedEventEmitter changed shape: libp2p keeps its heavier " +
    "listeners (src/host/lean_events.ts)",
  connection_list: "libp2p's connection manager changed shape: connection listing stays " +
    "quadratic (src/host/connection_list.ts)",
  peer_store_merges: "js-libp2p is not the version the peer store workaround was checked " +
    "against: every inbound stream rewrites its peer's record (src/host/peer_store_merges.ts)",
  own_addrs: "libp2p's address manager changed shape: listen addresses on public IPs stay " +
    "unannounced until confirmed (set node.announce; src/host/own_addrs.ts)",
  guarded_listeners: "a libp2p listener of an unknown shape is not behind the socket guard " +
    "(src/host/guarded_listeners.ts)",
  connection_probe: "the start-time check of the per-connection workarounds failed: each " +
    "connection's objects are still checked (src/host/patch_probe.ts)",
  pipelined_stream: "js-libp2p is not the version STOP pipelining was checked against: STOP " +
    "streams are negotiated first, one round trip more per circuit " +
    "(src/host/pipelined_stream.ts)",
};

const log = getLogger(["hopd", "host"]);

/** The warnings of one host: at most one per workaround. */
export class PatchWarnings {
  readonly #warned = new Set<HostPatch>();
  readonly #warn: (patch: HostPatch, fallback: string) => void;

  /**
   * Creates the tracker; each patch warns at most once.
   *
   * @param warn Where a warning goes (the host's log by default).
   */
  constructor(
    warn: (patch: HostPatch, fallback: string) => void = (patch, fallback) =>
      log.warn("libp2p workaround {patch} does not apply: {fallback}", { patch, fallback }),
  ) {
    this.#warn = warn;
  }

  /**
   * Says that `patch` did not apply; warns the first time for this host.
   *
   * @param patch The workaround.
   */
  notApplied(patch: HostPatch): void {
    if (this.#warned.has(patch)) return;
    this.#warned.add(patch);
    this.#warn(patch, PATCH_FALLBACKS[patch]);
  }

  /** The workarounds that did not apply so far, in the order they were found. */
  get notAppliedPatches(): readonly HostPatch[] {
    return [...this.#warned];
  }
}
