/**
 * A new yamux stream's SYN (outbound) or ACK (inbound) carried by its first frame, instead of
 * a window update of its own.
 *
 * @libp2p/yamux 8.0.3 opens an outbound stream by sending a window update with the SYN flag in
 * a microtask queued as the stream is made (`onCreateStream`). The muxer's `createStream()` is
 * async, so whoever opens the stream gets it only after that microtask ran: its first bytes
 * (multistream-select's header and protocol, or a relay's pipelined STOP with its CONNECT)
 * always leave as a second frame, a second Noise message and a second socket write. An inbound
 * stream answers the peer's first data frame at once with a window update carrying the ACK,
 * before the protocol handler could write its answer (multistream-select's echo). A relay
 * opens an outbound STOP stream and accepts an inbound hop stream for every circuit; counting
 * the frames hopd sends at 100 circuits/s (bench/relay_vs_peers.ts --only setup, a temporary
 * probe), these two window updates were about one of every seven.
 *
 * {@linkcode synWithFirstFrame} makes a new stream's first window update wait one macrotask.
 * A stream that sent anything in the meantime (data, a FIN, a reset) carried the flag on that
 * frame, as yamux does for any first frame (its state moved on), and the update is not sent:
 * the window it would return is returned with the next update, which the next data frame
 * received asks for (as when go-yamux holds an update back); a stream that sent nothing sends
 * it then, as before but up to a macrotask later; a stream no longer open sends nothing.
 *
 * A stream of another shape is left as it is and the host warns once (patch_warnings.ts, as
 * yamux_frames). Version guard: @libp2p/yamux 8.0.3 (versions.ts). Upstream fix: yamux
 * sending the SYN and the ACK with the stream's first frame.
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
/** @libp2p/yamux 8's `StreamState.SYNReceived`: an inbound stream that has sent nothing yet. */
const SYN_RECEIVED = 2;

/**
 * Makes a new yamux stream send its SYN or ACK with its first frame when that frame is sent
 * within a macrotask of its first window update (see the module doc).
 *
 * @param stream A stream of an @libp2p/yamux 8 muxer, as the muxer makes it.
 * @returns False when the stream is not shaped as @libp2p/yamux 8's (nothing is changed).
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
  const flagged = target.state;
  if (flagged !== INIT && flagged !== SYN_RECEIVED) return true;
  let deferred = false;
  target.sendWindowUpdate = function (this: YamuxSynStreamLike) {
    if (deferred || this.state !== flagged) return original.call(this);
    deferred = true;
    setTimeout(() => {
      // Sent anything (the flag went with it) or gone: no update of its own.
      if (this.state === flagged && this.status === "open") original.call(this);
    }, 0);
  };
  return true;
}
