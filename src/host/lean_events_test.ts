import assert from "node:assert/strict";
import { loopbackNode } from "./testing.ts";
import { TypedEventEmitter } from "main-event";
import { leanEventEmitters, PATCHED } from "./lean_events.ts";

interface Events {
  ping: CustomEvent<number>;
  other: CustomEvent<number>;
}

/** A fresh subclass per test, patched, so tests do not share state through the prototype. */
function leanEmitter(): TypedEventEmitter<Events> {
  class Probe extends TypedEventEmitter<Events> {}
  assert.equal(leanEventEmitters(Probe), true);
  return new Probe();
}

Deno.test("leanEventEmitters(): listeners run in order, once each, and de-duplicated", () => {
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

Deno.test("leanEventEmitters(): once and signal options remove the listener", () => {
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

Deno.test("leanEventEmitters(): a dispatch skips listeners removed by it and not those added by it", () => {
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

Deno.test("leanEventEmitters(): a throwing listener is reported and the others still run", () => {
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

Deno.test("leanEventEmitters(): dispatchEvent() answers whether a cancelable event was cancelled", () => {
  const emitter = leanEmitter();
  emitter.addEventListener("ping", (evt) => evt.preventDefault());
  assert.equal(emitter.dispatchEvent(new CustomEvent("ping", { cancelable: true })), false);
  assert.equal(emitter.dispatchEvent(new CustomEvent("ping")), true);
});

Deno.test("leanEventEmitters(): listeners added before the patch are still called and counted", () => {
  class Probe extends TypedEventEmitter<Events> {}
  const early = new Probe();
  const calls: string[] = [];
  const old = () => calls.push("old");
  early.addEventListener("ping", old);
  assert.equal(leanEventEmitters(Probe), true);
  assert.equal((Probe.prototype as unknown as Record<symbol, unknown>)[PATCHED], true);
  early.addEventListener("ping", () => calls.push("new"));
  assert.equal(early.listenerCount("ping"), 2);
  early.safeDispatchEvent("ping", { detail: 0 });
  assert.deepEqual(calls, ["new", "old"]);
  early.removeEventListener("ping", old);
  assert.equal(early.listenerCount("ping"), 1);
  early.safeDispatchEvent("ping", { detail: 0 });
  assert.deepEqual(calls, ["new", "old", "new"]);
});

Deno.test("leanEventEmitters() refuses a class of another shape", () => {
  class Plain extends EventTarget {}
  assert.equal(leanEventEmitters(Plain), false);
  assert.equal(Object.hasOwn(Plain.prototype, PATCHED), false);
});

Deno.test("leanEventEmitters(): two patched js-libp2p nodes connect, open a stream and echo 1 MiB", async () => {
  assert.equal(leanEventEmitters(), true);
  const [a, b] = [await loopbackNode(), await loopbackNode()];
  try {
    await b.handle("/echo/1.0.0", (stream) => {
      stream.addEventListener("message", (evt) => stream.send(evt.data));
      stream.addEventListener("remoteCloseWrite", () => void stream.close());
    });
    const opened = new Promise((resolve) => a.addEventListener("connection:open", resolve));
    const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, "/echo/1.0.0");
    await opened;
    const payload = crypto.getRandomValues(new Uint8Array(64 * 1024));
    let received = 0;
    const done = new Promise<void>((resolve) => {
      stream.addEventListener("message", (evt) => {
        received += evt.data.byteLength;
        if (received === 16 * payload.byteLength) resolve();
      });
    });
    for (let i = 0; i < 16; i++) {
      if (!stream.send(payload)) await stream.onDrain();
    }
    await done;
    assert.equal(received, 1024 * 1024);
    assert.equal(a.getConnections(b.peerId).length, 1);
  } finally {
    await a.stop();
    await b.stop();
  }
});
