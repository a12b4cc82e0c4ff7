import assert from "node:assert/strict";
import { TypedEventEmitter } from "main-event";
import { installLeanEvents, isLean, leanEvents, PATCHED } from "./lean_events.ts";

interface Events {
  ping: CustomEvent<number>;
  other: CustomEvent<number>;
}

/** A fresh subclass per test, with the lean methods, so tests share no prototype. */
function leanClass() {
  class Probe extends TypedEventEmitter<Events> {}
  assert.equal(installLeanEvents(Probe), true);
  return Probe;
}

/** A lean emitter: an instance of a fresh subclass, marked. */
function leanEmitter(): TypedEventEmitter<Events> {
  const Probe = leanClass();
  const emitter = new Probe();
  assert.equal(leanEvents(emitter, Probe), true);
  return emitter;
}

Deno.test("leanEvents(): listeners run in order, once each, and de-duplicated", () => {
  const emitter = leanEmitter();
  const calls: string[] = [];
  const a = () => calls.push("a");
  const b = { handleEvent: (evt: Event) => calls.push(`b${(evt as CustomEvent).detail}`) };
  emitter.addEventListener("ping", a);
  emitter.addEventListener("ping", a); // same listener, same capture: a no-op
  emitter.addEventListener("ping", b);
  emitter.addEventListener("other", () => calls.push("other"));
  assert.equal(emitter.listenerCount("ping"), 2);
  assert.equal(emitter.safeDispatchEvent("ping", { detail: 7 }), true);
  assert.deepEqual(calls, ["a", "b7"]);
  emitter.removeEventListener("ping", a);
  emitter.safeDispatchEvent("ping", { detail: 8 });
  assert.deepEqual(calls, ["a", "b7", "b8"]);
  assert.equal(emitter.listenerCount("ping"), 1);
  assert.equal(emitter.listenerCount("other"), 1);
});

Deno.test("leanEvents(): once and signal options remove the listener", () => {
  const emitter = leanEmitter();
  let once = 0;
  let signalled = 0;
  const controller = new AbortController();
  emitter.addEventListener("ping", () => once++, { once: true });
  emitter.addEventListener("ping", () => signalled++, { signal: controller.signal });
  emitter.safeDispatchEvent("ping", { detail: 1 });
  emitter.safeDispatchEvent("ping", { detail: 2 });
  assert.deepEqual([once, signalled], [1, 2]);
  controller.abort();
  emitter.safeDispatchEvent("ping", { detail: 3 });
  assert.deepEqual([once, signalled], [1, 2]);
  assert.equal(emitter.listenerCount("ping"), 0);
  // An aborted signal adds nothing.
  emitter.addEventListener("ping", () => signalled++, { signal: controller.signal });
  assert.equal(emitter.listenerCount("ping"), 0);
});

Deno.test("leanEvents(): a dispatch skips listeners removed by it and not those added by it", () => {
  const emitter = leanEmitter();
  const calls: string[] = [];
  const late = () => calls.push("late");
  const second = () => calls.push("second");
  emitter.addEventListener("ping", () => {
    calls.push("first");
    emitter.removeEventListener("ping", second);
    emitter.addEventListener("ping", late);
  });
  emitter.addEventListener("ping", second);
  emitter.safeDispatchEvent("ping", { detail: 0 });
  assert.deepEqual(calls, ["first"]);
  emitter.safeDispatchEvent("ping", { detail: 0 });
  assert.deepEqual(calls, ["first", "first", "late"]);
});

Deno.test("leanEvents(): a throwing listener is reported and the others still run", () => {
  const emitter = leanEmitter();
  const reported: unknown[] = [];
  const onError = (evt: ErrorEvent) => {
    reported.push(evt.error);
    evt.preventDefault(); // handled: Deno would otherwise end the test process
  };
  globalThis.addEventListener("error", onError);
  try {
    let after = 0;
    emitter.addEventListener("ping", () => {
      throw new Error("listener failed");
    });
    emitter.addEventListener("ping", () => after++);
    emitter.safeDispatchEvent("ping", { detail: 0 });
    assert.equal(after, 1);
    assert.equal((reported[0] as Error).message, "listener failed");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("leanEvents(): dispatchEvent() answers whether a cancelable event was cancelled", () => {
  const emitter = leanEmitter();
  emitter.addEventListener("ping", (evt) => evt.preventDefault());
  assert.equal(emitter.dispatchEvent(new CustomEvent("ping", { cancelable: true })), false);
  assert.equal(emitter.dispatchEvent(new CustomEvent("ping")), true);
});

Deno.test("leanEvents(): listeners added before the mark run first, in order, and are counted", () => {
  const Probe = leanClass();
  const early = new Probe();
  const calls: string[] = [];
  const old = () => calls.push("old");
  early.addEventListener("ping", old);
  assert.equal(leanEvents(early, Probe), true);
  assert.equal(isLean(early), true);
  early.addEventListener("ping", () => calls.push("new"));
  assert.equal(early.listenerCount("ping"), 2);
  early.safeDispatchEvent("ping", { detail: 0 });
  assert.deepEqual(calls, ["old", "new"]);
  early.removeEventListener("ping", old);
  assert.equal(early.listenerCount("ping"), 1);
  early.safeDispatchEvent("ping", { detail: 0 });
  assert.deepEqual(calls, ["old", "new", "new"]);
});

Deno.test("leanEvents(): stopPropagation() stops no listener of the one target, stopImmediatePropagation() stops the rest", async (t) => {
  for (const earlier of [false, true]) {
    await t.step(earlier ? "with a listener added before the mark" : "lean listeners only", () => {
      const Probe = leanClass();
      const emitter = new Probe();
      const calls: string[] = [];
      if (earlier) emitter.addEventListener("ping", () => calls.push("early"));
      leanEvents(emitter, Probe);
      emitter.addEventListener("ping", (evt) => {
        calls.push("a");
        if (evt.detail === 1) evt.stopPropagation();
        if (evt.detail === 2) evt.stopImmediatePropagation();
      });
      emitter.addEventListener("ping", () => calls.push("b"));
      emitter.safeDispatchEvent("ping", { detail: 1 });
      emitter.safeDispatchEvent("ping", { detail: 2 });
      const early = earlier ? ["early"] : [];
      assert.deepEqual(calls, [...early, "a", "b", ...early, "a"]);
    });
  }
});

Deno.test("installLeanEvents(): an emitter not marked keeps main-event's semantics (event.target, stopPropagation, order)", () => {
  const Probe = leanClass();
  const plain = new Probe();
  const calls: string[] = [];
  plain.addEventListener("ping", (evt) => {
    calls.push(evt.target === plain && evt.currentTarget === plain ? "a:target" : "a:none");
    if (evt.detail === 1) evt.stopPropagation();
    if (evt.detail === 2) evt.stopImmediatePropagation();
  });
  plain.addEventListener("ping", () => calls.push("b"));
  plain.safeDispatchEvent("ping", { detail: 1 });
  plain.safeDispatchEvent("ping", { detail: 2 });
  assert.deepEqual(calls, ["a:target", "b", "a:target"]);
  assert.equal(isLean(plain), false);
  assert.equal(plain.listenerCount("ping"), 2);
});

Deno.test("installLeanEvents() and leanEvents() refuse what is not of the shape expected", () => {
  class Plain extends EventTarget {}
  assert.equal(installLeanEvents(Plain), false);
  assert.equal(Object.hasOwn(Plain.prototype, PATCHED), false);
  // Not an instance of the class, or a class without the lean methods: left alone.
  const Probe = leanClass();
  assert.equal(leanEvents(new Plain(), Probe), false);
  assert.equal(leanEvents({ addEventListener() {} }, Probe), false);
  class Unpatched extends TypedEventEmitter<Events> {}
  const other = new Unpatched();
  assert.equal(leanEvents(other, Unpatched), false);
  assert.equal(isLean(other), false);
});

Deno.test("leanEvents(): later instances of a marked object's class are lean from their constructor's listeners on", () => {
  const Probe = leanClass();
  class Built extends Probe {
    constructor() {
      super();
      this.addEventListener("ping", () => {}); // as libp2p's constructors do
    }
  }
  const first = new Built();
  assert.equal(leanEvents(first, Probe), true);
  const later = new Built();
  assert.equal(isLean(later), true);
  assert.equal(later.listenerCount("ping"), 1);
  // Another subclass of the same base is not.
  class Other extends Probe {}
  const other = new Other();
  other.addEventListener("ping", () => {});
  assert.equal(isLean(other), false);
});
