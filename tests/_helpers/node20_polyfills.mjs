// What js-libp2p 3 needs that Node 20 lacks, for the stock clients that run under Node:
// Promise.withResolvers, and a global WebSocket (@libp2p/websockets dials with it; Node 22
// has one). Import it first; under Deno it changes nothing.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
if (typeof globalThis.WebSocket !== "function") {
  globalThis.WebSocket = (await import("ws")).WebSocket;
}
