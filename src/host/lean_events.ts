/**
 * A lighter event target for js-libp2p's objects. Every libp2p object that emits events (the
 * node, each connection, its socket wrapper, its Noise stream, its yamux muxer, each stream)
 * is a `TypedEventEmitter` from main-event 1.0.5, which keeps every listener twice: once in
 * its own list (an entry object, a wrapper closure, an abort closure and their context) and
 * once in Deno's `EventTarget` (another entry and a normalised options object). A held relay
 * connection carries ~15 listeners across its four emitters, and a heap snapshot of hopd at
 * 3,000 held reservations put ~15 % of the live heap per reservation in that bookkeeping.
 * Deno's `EventTarget.dispatchEvent` also builds an event path and retargets for every event,
 * and libp2p dispatches one event per chunk at each layer of the data path.
 *
 * `leanEventEmitters()` replaces the methods of `TypedEventEmitter.prototype` with ones that
 * keep one small entry per listener and call the listeners directly. The behaviour libp2p
 * relies on is kept: listeners run in the order added, once per dispatch, `once` and `signal`
 * options, `handleEvent` objects, de-duplication of the same listener and capture flag, a
 * listener added during a dispatch is not called by it and one removed is not called, an
 * exception in a listener is reported (`reportError`) without stopping the others, and
 * `listenerCount()` (which libp2p's streams read to decide whether to buffer). What is not
 * kept, and libp2p 3.3 does not use: `event.target` / `currentTarget` stay null, and
 * `stopPropagation()` stops the remaining listeners like `stopImmediatePropagation()`.
 *
 * Objects created before the patch keep their listeners in main-event's own list: the patched
 * methods still reach those (through the original methods), so nothing is lost whenever the
 * patch is applied.
 *
 * @module
 */

import { TypedEventEmitter } from "main-event";

/** One listener, as the lean methods keep it. */
interface Entry {
  readonly type: string;
  readonly callback: EventListenerOrEventListenerObject;
  /** CAPTURE | ONCE | REMOVED. */
  flags: number;
  /** Present when the listener was added with a signal. */
  readonly abort: { readonly signal: AbortSignal; readonly onAbort: () => void } | undefined;
}

const CAPTURE = 1;
const ONCE = 2;
const REMOVED = 4;

// One flat list per emitter (an emitter has a handful of listeners over a few types): smaller
// than a Map of lists, and a dispatch to one listener, the common case, allocates nothing.
const LISTENERS = Symbol("hopd.leanListeners");
/** Set on a prototype once patched. */
export const PATCHED: unique symbol = Symbol.for("hopd.leanEventEmitters");

type Target = EventTarget & { [LISTENERS]?: Entry[] };

function captureOf(options: boolean | EventListenerOptions | undefined): number {
  return (typeof options === "boolean" ? options : options?.capture === true) ? CAPTURE : 0;
}

function find(
  list: Entry[] | undefined,
  type: string,
  callback: EventListenerOrEventListenerObject,
  capture: number,
): number {
  if (list === undefined) return -1;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]!;
    if (entry.type === type && entry.callback === callback && (entry.flags & CAPTURE) === capture) {
      return i;
    }
  }
  return -1;
}

function removeEntry(target: Target, entry: Entry): void {
  if ((entry.flags & REMOVED) !== 0) return;
  entry.flags |= REMOVED;
  const list = target[LISTENERS]!;
  list.splice(list.indexOf(entry), 1);
  entry.abort?.signal.removeEventListener("abort", entry.abort.onAbort);
}

function call(target: Target, entry: Entry, event: Event): void {
  if ((entry.flags & ONCE) !== 0) removeEntry(target, entry);
  try {
    const callback = entry.callback;
    if (typeof callback === "function") callback.call(target, event);
    else callback.handleEvent(event);
  } catch (error) {
    // As EventTarget does: the error is reported, the other listeners still run.
    reportError(error);
  }
}

/**
 * Makes every libp2p `TypedEventEmitter` (main-event) keep and call its listeners with the
 * lean methods above. Idempotent.
 *
 * @param emitter The class to patch: main-event's (the default), or a subclass of it (tests).
 * @returns False when the class is not of the shape this expects (nothing changed).
 */
export function leanEventEmitters(
  emitter: abstract new () => EventTarget = TypedEventEmitter,
): boolean {
  const proto = emitter.prototype as unknown as Record<PropertyKey, unknown>;
  if (Object.hasOwn(proto, PATCHED)) return true;
  if (
    typeof proto.addEventListener !== "function" ||
    typeof proto.removeEventListener !== "function" ||
    typeof proto.listenerCount !== "function" || typeof proto.safeDispatchEvent !== "function"
  ) {
    return false;
  }
  // main-event's own methods, for listeners it already tracks (added before the patch).
  const remove = proto.removeEventListener as EventTarget["removeEventListener"];
  const count = proto.listenerCount as (this: EventTarget, type: string) => number;
  const nativeDispatch = EventTarget.prototype.dispatchEvent;

  proto.addEventListener = function (
    this: Target,
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (callback == null) return;
    const flags = typeof options === "object" ? options : undefined;
    const signal = flags?.signal ?? undefined;
    if (signal?.aborted === true) return;
    const capture = captureOf(options);
    let list = this[LISTENERS];
    if (list === undefined) {
      list = [];
      this[LISTENERS] = list;
    } else if (find(list, type, callback, capture) >= 0) {
      return;
    }
    let abort: Entry["abort"];
    if (signal !== undefined) {
      const onAbort = () => removeEntry(this, entry);
      abort = { signal, onAbort };
      signal.addEventListener("abort", onAbort, { once: true });
    }
    const entry: Entry = { type, callback, flags: capture | (flags?.once ? ONCE : 0), abort };
    list.push(entry);
  };

  proto.removeEventListener = function (
    this: Target,
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    if (callback == null) return;
    const list = this[LISTENERS];
    const at = find(list, type, callback, captureOf(options));
    if (at >= 0) removeEntry(this, list![at]!);
    else if (count.call(this, type) > 0) remove.call(this, type, callback, options);
  };

  proto.listenerCount = function (this: Target, type: string): number {
    let n = 0;
    for (const entry of this[LISTENERS] ?? []) if (entry.type === type) n++;
    return n + count.call(this, type);
  };

  proto.dispatchEvent = function (this: Target, event: Event): boolean {
    const list = this[LISTENERS];
    if (list !== undefined) {
      const type = event.type;
      let first: Entry | undefined;
      let more: Entry[] | undefined;
      for (const entry of list) {
        if (entry.type !== type) continue;
        if (first === undefined) first = entry;
        else (more ??= [first]).push(entry);
      }
      // Listeners are taken before any runs: one added while dispatching is not called by
      // this dispatch, one removed is skipped (DOM rules).
      if (more === undefined) {
        if (first !== undefined) call(this, first, event);
      } else {
        for (const entry of more) {
          if ((entry.flags & REMOVED) !== 0) continue;
          call(this, entry, event);
          if (event.cancelBubble) break;
        }
      }
    }
    // Listeners registered before the patch live in main-event's list and Deno's target.
    if (count.call(this, event.type) > 0) return nativeDispatch.call(this, event);
    return !event.defaultPrevented;
  };

  proto[PATCHED] = true;
  return true;
}
