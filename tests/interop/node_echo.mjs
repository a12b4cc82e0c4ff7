// Node entry for the stock-client relay echo: `node tests/interop/node_echo.mjs RELAY_ADDR BYTES`.
// Prints one JSON line with the result; exit 0 only when the echo came back intact.
import "../_helpers/node20_polyfills.mjs";

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
