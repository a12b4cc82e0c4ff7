/**
 * A new outbound yamux stream's SYN carried by its first frame, instead of a window update of
 * its own.
 *
 * @libp2p/yamux 8.0.3 opens an outbound stream by sending a window update with the SYN flag in
 * a microtask queued as the stream is made (`onCreateStream`). The muxer's `createStream()` is
 * async, so whoever opens the stream gets it only after that microtask ran: its first bytes
 * (multistream-select's header and protocol, or a relay's pipelined STOP with its CONNECT)
 * always leave as a second frame, a second Noise message and a second socket write. A relay
 * opens an outbound STOP stream for every circuit; counting the frames hopd sends at 100
 * circuits/s (bench/relay_vs_peers.ts --only setup, a temporary probe), this window update
 * was about one of every 15.
 *
 * {@linkcode synWithFirstFrame} makes a new outbound stream wait one macrotask before it
 * sends that window update. A stream that sent anything in the meantime (data, or a FIN or
 * reset) has carried the SYN on that frame, as yamux does for any first frame (its state is no
 * longer `Init`), and the update is not sent at all; a stream that sent nothing sends it then,
 * as before but up to a macrotask later; a stream no longer open sends nothing. Inbound
 * streams are left as they are.
 *
 * A stream of another shape is left as it is and the host warns once (patch_warnings.ts, as
 * yamux_frames). Version guard: @libp2p/yamux 8.0.3 (versions.ts). Upstream fix: yamux
 * sending the SYN with the stream's first frame, or `createStream` resolving before the
 * SYN's microtask.
 *
 * @module
 */

/** The part of @libp2p/yamux 8's stream this touches. */
interface YamuxSynStreamLike {
  state: number;
  status: string;
  sendWindowUpdate(): void;
}

/** @libp2p/yamux 8's `StreamState.Init`: an outbound stream that has sent nothing yet. */
const INIT = 0;

/**
 * Makes a new outbound yamux stream send its SYN with its first frame when that frame is
 * sent within a macrotask (see the module doc).
 *
 * @param stream A stream of an @libp2p/yamux 8 muxer, as the muxer makes it.
 * @returns False when the stream is not shaped as @libp2p/yamux 8's (nothing is changed);
 *   true for an inbound stream too (nothing to change).
 */
export function synWithFirstFrame(stream: unknown): boolean {
  const target = stream as YamuxSynStreamLike;
  const original = target.sendWindowUpdate;
  if (
    typeof original !== "function" || typeof target.state !== "number" ||
    typeof target.status !== "string"
  ) {
    return false;
  }
  if (target.state !== INIT) return true;
  let deferred = false;
  target.sendWindowUpdate = function (this: YamuxSynStreamLike) {
    if (deferred || this.state !== INIT) return original.call(this);
    deferred = true;
    setTimeout(() => {
      // Sent anything (the SYN went with it) or gone: no update of its own.
      if (this.state === INIT && this.status === "open") original.call(this);
    }, 0);
  };
  return true;
}
