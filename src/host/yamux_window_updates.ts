/**
 * A yamux window update once half the receive window is used, as go-libp2p's yamux sends it,
 * instead of one per data frame received.
 *
 * @libp2p/yamux 8.0.3 answers every data frame with a window update (`handleData` →
 * `sendWindowUpdate`), and each update is its own Noise message (a cipher call) and its own
 * socket write. A rust-libp2p source sends 16 KiB frames, so a relay answered it with about
 * 4.7 updates per 64 KiB relayed (34,585 32-byte writes in a 288 MiB run of
 * bench/relay_vs_peers.ts with rust clients), and go, Node and Deno sources with one per 64 KiB
 * frame. In a CPU profile of hopd relaying between rust clients, `sendWindowUpdate` and what
 * it calls took a fifth of hopd's time.
 *
 * go-yamux (`segmentedBuffer.GrowTo`) sends an update without a flag only once the credit it
 * would return is at least half the receive window. `thresholdWindowUpdates()` makes an
 * established stream do the same: the call is skipped while less than half of `recvWindow`
 * has been received since the last update, and otherwise is yamux's own `sendWindowUpdate`
 * (its window accounting unchanged). While the window can still grow (yamux doubles
 * `recvWindow`, up to its maximum, when a frame comes within four round trips of the last),
 * every call is yamux's own, so a fast peer's window grows as fast as with stock yamux: with
 * the growth judged over a half window instead, as go-yamux judges it, the window stayed at
 * 256 KiB and a relay between Node or Deno clients spent more CPU per GiB than with stock
 * yamux (bench/RESULTS.md, "relay vs peers"). The peer never waits on a skipped update: it
 * still holds more than half the window. Updates with a flag (SYN, ACK: state other than
 * established) and a paused stream's bookkeeping take the original path at once, and nothing
 * is deferred to a later task, so an update goes out in the same task as before or not at all.
 *
 * A stream of another shape is left as it is and the host warns once (patch_warnings.ts);
 * patch_probe.ts checks it at start. Version guard: @libp2p/yamux 8.0.3 (versions.ts).
 * Upstream fix: `YamuxStream.sendWindowUpdate` sending an unflagged update only once half the
 * window is used.
 *
 * @module
 */

/** The part of @libp2p/yamux 8's stream this touches. */
interface YamuxWindowStreamLike {
  state: number;
  recvWindow: number;
  recvWindowCapacity: number;
  maxStreamWindowSize: number;
  epochStart: number;
  getRTT(): number;
  sendWindowUpdate(): void;
}

/** @libp2p/yamux 8's `StreamState.Established`: no flag left to send with an update. */
const ESTABLISHED = 3;
/** Set on a `sendWindowUpdate` that {@linkcode thresholdWindowUpdates} put in place. */
const THRESHOLDED = Symbol("hopd.thresholdWindowUpdates");

/**
 * Makes `stream` send an unflagged window update only once at least half its receive window
 * is used.
 *
 * @param stream A stream of an @libp2p/yamux 8 muxer.
 * @returns False when the stream is not shaped as @libp2p/yamux 8's (nothing is changed).
 */
export function thresholdWindowUpdates(stream: unknown): boolean {
  const target = stream as YamuxWindowStreamLike;
  const original = target.sendWindowUpdate;
  if (
    typeof original !== "function" || typeof target.state !== "number" ||
    typeof target.recvWindow !== "number" || typeof target.recvWindowCapacity !== "number" ||
    typeof target.maxStreamWindowSize !== "number" || typeof target.epochStart !== "number" ||
    typeof target.getRTT !== "function"
  ) {
    return false;
  }
  const atHalf = function (this: YamuxWindowStreamLike) {
    if (this.state !== ESTABLISHED) return original.call(this);
    // yamux's own growth rule, judged per frame as it judges it: the window doubles (up to its
    // maximum) when this frame came within four round trips of the last one. yamux then
    // sends the update (which carries the growth) itself.
    const now = Date.now();
    const rtt = this.getRTT();
    const grows = this.recvWindow < this.maxStreamWindowSize && rtt > -1 &&
      now - this.epochStart <= rtt * 4;
    // go-yamux's rule: while the credit to return (received since the last update) is under
    // half the window, the peer, still holding the rest, does not need it.
    if (grows || this.recvWindow - this.recvWindowCapacity >= this.recvWindow / 2) {
      return original.call(this);
    }
    // The epoch restarts at every frame, as yamux restarts it at every update it sends.
    this.epochStart = now;
  };
  Object.defineProperty(atHalf, THRESHOLDED, { value: true });
  target.sendWindowUpdate = atHalf;
  return true;
}

/**
 * Whether a yamux stream sends its window updates through {@linkcode thresholdWindowUpdates}.
 *
 * @param stream A stream of a yamux muxer.
 * @returns True when its `sendWindowUpdate` is the one put in place here.
 */
export function isWindowUpdateThresholded(stream: unknown): boolean {
  const send = (stream as { sendWindowUpdate?: unknown } | null)?.sendWindowUpdate;
  return typeof send === "function" && (send as { [THRESHOLDED]?: boolean })[THRESHOLDED] === true;
}
