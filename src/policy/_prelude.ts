/**
 * The prelude: the script that runs in every sandbox's context before the module does, and
 * the entry points it hands the host (sandbox.ts holds them by handle).
 *
 * @module
 */

import type { QuickJSHandle } from "quickjs-emscripten-core";
import { ERROR_MESSAGE_MAX_CHARS, LOG_LINE_MAX_CHARS, LOG_LINES_MAX } from "./constants.ts";

// Runs once per context, before the module. It replaces the clock and randomness with the
// host's, captures console output (bounded), and evaluates to the host's entry points. They
// never touch the global object, and they use the built-ins as they were before the module
// ran, so the module can neither replace them (the host holds them by handle) nor bend them
// by rewriting `JSON`, `Array.prototype` or `String.prototype`. Whatever they answer is
// checked and bounded again on the host side (`Sandbox.#answer`): the module runs in the same
// context and the host never trusts it.
export const PRELUDE = `(() => {
  const RealDate = Date;
  const { parse, stringify } = JSON;
  const { freeze, isFrozen, keys, defineProperty } = Object;
  const { apply } = Reflect;
  const { imul, floor, max } = Math;
  const toText = String;
  const sliceArray = Array.prototype.slice;
  const unshift = Array.prototype.unshift;
  const join = Array.prototype.join;
  const sliceString = String.prototype.slice;
  const split = String.prototype.split;
  const trim = String.prototype.trim;
  const put = (array, index, value) =>
    defineProperty(array, index, { value, writable: true, enumerable: true, configurable: true });
  let now = 0;
  let seed = 1;
  const random = () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  class HostDate extends RealDate {
    constructor(...args) { if (args.length === 0) super(now); else super(...args); }
    static now() { return now; }
  }
  globalThis.Date = HostDate;
  Math.random = random;
  let logs = [];
  const text = (v) => {
    if (typeof v === "string") return v;
    try { const json = stringify(v); return json === undefined ? toText(v) : json; } catch { return toText(v); }
  };
  const write = (...args) => {
    if (logs.length >= ${LOG_LINES_MAX}) return;
    const parts = [];
    for (let i = 0; i < args.length; i++) put(parts, i, apply(sliceString, text(args[i]), [0, ${LOG_LINE_MAX_CHARS}]));
    put(logs, logs.length, apply(sliceString, apply(join, parts, [" "]), [0, ${LOG_LINE_MAX_CHARS}]));
  };
  globalThis.console = { log: write, info: write, warn: write, error: write, debug: write };
  const hostHistory = globalThis.__hopdHistory;
  delete globalThis.__hopdHistory;
  // The snapshots this sandbox judged, newest first, frozen: ctx.history() hands them out
  // without copying or parsing (they are read-only, like the snapshot itself).
  let ring = [];
  let ringMax = 60;
  // Two levels (the snapshot and its sections): deep enough that ordinary mistakes throw,
  // cheap enough for every tick (a full recursive freeze cost more than the evaluation).
  const freezeSnapshot = (value, depth = 2) => {
    if (value !== null && typeof value === "object" && !isFrozen(value)) {
      freeze(value);
      if (depth > 1) {
        const names = keys(value);
        for (let i = 0; i < names.length; i++) freezeSnapshot(value[names[i]], depth - 1);
      }
    }
    return value;
  };
  const count = (n, length) => n === undefined ? length : max(0, floor(Number(n)) || 0);
  const seedRing = (json, size) => {
    ring = apply(sliceArray, parse(json), [0, size]);
    for (let i = 0; i < ring.length; i++) freezeSnapshot(ring[i]);
    ringMax = size;
  };
  const call = (ns, fn, argsJson, stateJson, nowMs, seedValue, own) => {
    now = nowMs;
    seed = seedValue | 0;
    logs = [];
    const f = ns[fn];
    if (typeof f !== "function") throw new TypeError("the module does not export a function named " + fn);
    const args = parse(argsJson);
    if (own) freezeSnapshot(args[0]);
    const ctx = {
      now: nowMs,
      state: parse(stateJson),
      history: own
        ? (n) => apply(sliceArray, ring, [0, count(n, ring.length)])
        : (n) => parse(hostHistory(n === undefined ? -1 : Number(n))),
      random,
      log: write,
    };
    const list = [];
    for (let i = 0; i < args.length; i++) put(list, i, args[i]);
    put(list, args.length, ctx);
    let result;
    try {
      result = apply(f, undefined, list);
    } finally {
      if (own) {
        apply(unshift, ring, [args[0]]);
        if (ring.length > ringMax) ring.length = ringMax;
      }
    }
    if (result !== null && typeof result === "object" && typeof result.then === "function") {
      throw new TypeError(fn + " must be synchronous: it returned a promise");
    }
    return stringify([result === undefined ? null : result, ctx.state === undefined ? null : ctx.state, logs]);
  };
  const exportsOf = (ns) => {
    const names = keys(ns);
    const out = [];
    for (let i = 0; i < names.length; i++) if (typeof ns[names[i]] === "function") put(out, out.length, names[i]);
    return stringify(out);
  };
  // A thrown value as one line, read under a deadline of its own (its getters are the module's).
  const describe = (e) => {
    try {
      let line;
      if (e !== null && (typeof e === "object" || typeof e === "function")) {
        const name = e.name;
        const message = e.message;
        const stack = e.stack;
        line = (name === undefined ? "Error" : toText(name)) + ": " + (message === undefined ? toText(e) : toText(message));
        if (typeof stack === "string") {
          const lines = apply(split, apply(sliceString, stack, [0, ${ERROR_MESSAGE_MAX_CHARS}]), ["\\n"]);
          for (let i = 0; i < lines.length; i++) {
            const where = apply(trim, lines[i], []);
            if (where !== "") { line = line + " (" + where + ")"; break; }
          }
        }
      } else {
        line = "Error: " + toText(e);
      }
      return apply(sliceString, line, [0, ${ERROR_MESSAGE_MAX_CHARS}]);
    } catch {
      return "the thrown value could not be read";
    }
  };
  return { call, seedRing, exportsOf, describe };
})();`;

/** The prelude's entry points, held by handle from before the module ran. */
export interface Entries {
  readonly call: QuickJSHandle;
  readonly seedRing: QuickJSHandle;
  readonly exportsOf: QuickJSHandle;
  readonly describe: QuickJSHandle;
}
