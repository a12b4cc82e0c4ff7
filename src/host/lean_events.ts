/**
 * A lighter event target for the libp2p objects hopd's own node creates. Every libp2p object
 * that emits events (the node, each connection, its socket wrapper, its Noise stream, its
 * yamux muxer, each stream) is a `TypedEventEmitter` from main-event 1.0.5, which keeps every
 * listener twice: once in its own list (an entry object, a wrapper closure, an abort closure
 * and their context) and once in Deno's `EventTarget` (another entry and a normalised options
 * object). A held relay connection carries ~15 listeners across its four emitters, and a heap
 * snapshot of hopd at 3,000 held reservations put ~15 % of the live heap per reservation in
 * that bookkeeping. Deno's `EventTarget.dispatchEvent` also builds an event path and retargets
 * for every event, and libp2p dispatches one event per chunk at each layer of the data path.
 *
 * Scope: the objects passed to `leanEvents()`, and the later instances of their classes. hopd
 * marks each connection's socket wrapper and Noise stream (relayNoise), its yamux muxer and
 * streams (cappedYamux) and the connection itself (createHost), so the classes a libp2p
 * connection is made of (@libp2p/tcp's socket wrapper, noise's stream, yamux's muxer and stream,
 * libp2p's `Connection`) are lean from their constructors' listeners on: marking each object
 * only after it was built left ~6 listeners per held connection in main-event's heavier form
 * (bench/RESULTS.md, "Lean emitters scoped"). Every other emitter in the process (gossipsub, the
 * node, libp2p's services and queues) runs main-event's own methods, unchanged:
 * `installLeanEvents()` puts on `TypedEventEmitter.prototype` methods that call main-event's (and
 * `EventTarget`'s `dispatchEvent`) for any object not lean. The methods have to sit there, not
 * on the objects: @libp2p/utils' streams and muxers override `addEventListener` and call
 * `super.addEventListener`, which only a method on main-event's prototype can answer. A second
 * libp2p node in the same process (a stock client in a test) has lean connections too.
 *
 * A marked object keeps one small entry per listener and calls its listeners directly. Kept:
 * listeners run in the order added, once per dispatch, `once` and `signal` options,
 * `handleEvent` objects, de-duplication of the same listener and capture flag, a listener
 * added during a dispatch is not called by it and one removed is not called, an exception in a
 * listener is reported (`reportError`) without stopping the others, `stopPropagation()` stops
 * nothing on the one target and `stopImmediatePropagation()` stops the remaining listeners,
 * and `listenerCount()` (which libp2p's streams read to decide whether to buffer). Listeners
 * added before the object was marked stay in main-event's list and run first (they came first).
 * Not kept, and not read by libp2p 3.3, yamux, noise or gossipsub on these objects:
 * `event.target` / `currentTarget` stay null when only lean listeners run.
 *
 * Version guard: main-event 1.0.5 (src/host/versions.ts); when its prototype is not of the
 * expected shape nothing is installed and createHost warns at start. Upstream fix: main-event's
 * `TypedEventEmitter` keeping its listeners once (in `EventTarget` only, or in its own list
 * only with its own dispatch), which would make this module unnecessary.
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
/** Set on the prototype of a class whose instances are lean from their first listener. */
const LEAN_CLASS = Symbol("hopd.leanClass");
/** Set on a prototype once the lean methods are installed on it. */
export const PATCHED: unique symbol = Symbol.for("hopd.leanEventEmitters");

type Target = EventTarget & { [LISTENERS]?: Entry[]; readonly [LEAN_CLASS]?: true };

function captureOf(options: boolean | EventListenerOptions | undefined): number {
  return (typeof options === "boolean" ? options : options?.capture === true) ? CAPTURE : 0;
}

/** What identifies a listener (the DOM's rule): its type, its callback and its capture flag. */
interface ListenerKey {
  readonly type: string;
  readonly callback: EventListenerOrEventListenerObject;
  /** {@linkcode CAPTURE} or 0. */
  readonly capture: number;
}

/** The index in `list` of the listener `key` names, -1 when none. */
function find(list: Entry[] | undefined, { type, callback, capture }: ListenerKey): number {
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
 * Installs on `emitter`'s prototype the lean methods, which act on objects marked with
 * {@linkcode leanEvents} and call main-event's own for every other object. Idempotent.
 *
 * @param emitter The class: main-event's (the default), or a subclass of it (tests).
 * @returns False when the class is not of the shape this expects (nothing changed).
 */
export function installLeanEvents(
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
  // main-event's own methods: every object not marked, and listeners added before the mark.
  const add = proto.addEventListener as EventTarget["addEventListener"];
  const remove = proto.removeEventListener as EventTarget["removeEventListener"];
  const count = proto.listenerCount as (this: EventTarget, type: string) => number;
  const dispatch = proto.dispatchEvent as EventTarget["dispatchEvent"];

  proto.addEventListener = function (
    this: Target,
    type: string,
    callback: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    let list = this[LISTENERS];
    if (list === undefined) {
      // A class hopd's connections are made of: lean from the constructor's listeners on.
      if (this[LEAN_CLASS] !== true) return add.call(this, type, callback, options);
      list = this[LISTENERS] = [];
    }
    if (callback == null) return;
    const flags = typeof options === "object" ? options : undefined;
    const signal = flags?.signal ?? undefined;
    if (signal?.aborted === true) return;
    const capture = captureOf(options);
    if (find(list, { type, callback, capture }) >= 0) return;
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
    const list = this[LISTENERS];
    if (list === undefined) return remove.call(this, type, callback, options);
    if (callback == null) return;
    const at = find(list, { type, callback, capture: captureOf(options) });
    if (at >= 0) removeEntry(this, list[at]!);
    else if (count.call(this, type) > 0) remove.call(this, type, callback, options);
  };

  proto.listenerCount = function (this: Target, type: string): number {
    const list = this[LISTENERS];
    if (list === undefined) return count.call(this, type);
    let n = 0;
    for (const entry of list) if (entry.type === type) n++;
    return n + count.call(this, type);
  };

  proto.dispatchEvent = function (this: Target, event: Event): boolean {
    const list = this[LISTENERS];
    if (list === undefined) return dispatch.call(this, event);
    const type = event.type;
    let first: Entry | undefined;
    let more: Entry[] | undefined;
    for (const entry of list) {
      if (entry.type !== type) continue;
      if (first === undefined) first = entry;
      else (more ??= [first]).push(entry);
    }
    // Listeners added before the mark live in main-event's list and Deno's target.
    const earlier = count.call(this, type) > 0;
    if (first === undefined) return earlier ? dispatch.call(this, event) : !event.defaultPrevented;
    // Listeners are taken before any runs: one added while dispatching is not called by this
    // dispatch, one removed is skipped (DOM rules).
    if (more === undefined && !earlier) {
      call(this, first, event);
      return !event.defaultPrevented;
    }
    // Several listeners: stopImmediatePropagation() stops the rest (stopPropagation() does
    // not, on a single target); its flag is not readable, so the call is watched.
    let stopped = false;
    const stopImmediate = event.stopImmediatePropagation;
    Object.defineProperty(event, "stopImmediatePropagation", {
      configurable: true,
      value: () => {
        stopped = true;
        stopImmediate.call(event);
      },
    });
    if (earlier) dispatch.call(this, event);
    for (const entry of more ?? [first]) {
      if (stopped) break;
      if ((entry.flags & REMOVED) === 0) call(this, entry, event);
    }
    return !event.defaultPrevented;
  };

  proto[PATCHED] = true;
  return true;
}

/**
 * Makes `target`, and every later instance of its class, keep and call its listeners with the
 * lean methods (see the module doc). Listeners it already has stay where they are, and still
 * run.
 *
 * @param target An object hopd's node created: a connection, its socket wrapper or Noise
 *   stream, its muxer, a stream.
 * @param emitter The class whose prototype holds the lean methods (main-event's by default).
 * @returns False when `target` is not an instance of `emitter` or the methods are not
 *   installed on it (nothing changed): the object keeps main-event's heavier bookkeeping.
 */
export function leanEvents(
  target: unknown,
  emitter: abstract new () => EventTarget = TypedEventEmitter,
): boolean {
  if (!(target instanceof emitter) || !Object.hasOwn(emitter.prototype, PATCHED)) return false;
  const marked = target as Target;
  marked[LISTENERS] ??= [];
  // Later instances of its class are lean from their constructor's first listener (the
  // listeners added before this mark stay heavy): a held connection's socket wrapper and
  // connection keep several added while they are built.
  const proto = Object.getPrototypeOf(target) as Record<PropertyKey, unknown>;
  if (!Object.hasOwn(proto, LEAN_CLASS)) proto[LEAN_CLASS] = true;
  return true;
}

/**
 * Whether `target` is lean (marked by {@linkcode leanEvents}).
 *
 * @param target Any object.
 * @returns True when its listeners are kept by the lean methods.
 */
export function isLean(target: unknown): boolean {
  return typeof target === "object" && target !== null &&
    (target as Target)[LISTENERS] !== undefined;
}
