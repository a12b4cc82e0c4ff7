// Node entry for the stock-client relay echo: `node tests/interop/node_echo.mjs RELAY_ADDR BYTES`.
// Prints one JSON line with the result; exit 0 only when the echo came back intact.
// js-libp2p 3 needs Promise.withResolvers, which Node 20 lacks: polyfill it here.
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

// Node 20 has no global WebSocket either (22 has); @libp2p/websockets dials with it.
if (typeof globalThis.WebSocket !== "function") {
  globalThis.WebSocket = (await import("ws")).WebSocket;
}

const [relayAddr, bytes = String(8 * 1024 * 1024)] = process.argv.slice(2);
const { relayEcho } = await import("./relay_echo_client.mjs");
try {
  const result = await relayEcho(relayAddr, Number(bytes));
  console.log(JSON.stringify({ runtime: `node ${process.version}`, ...result }));
  process.exit(result.intact ? 0 : 1);
} catch (error) {
  console.log(
    JSON.stringify({ runtime: `node ${process.version}`, error: String(error?.stack ?? error) }),
  );
  process.exit(1);
}
