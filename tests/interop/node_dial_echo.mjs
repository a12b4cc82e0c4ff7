// Node entry: dials a peer that serves the echo protocol through a relay and echoes a payload:
// `node tests/interop/node_dial_echo.mjs CIRCUIT_ADDR BYTES`. Prints one JSON line; exit 0 only
// when the echo came back intact. Trust for a relay over /tls/ws comes from
// NODE_EXTRA_CA_CERTS. Stock js-libp2p (relay_echo_client.mjs), none of hopd's code.
import "../_helpers/node20_polyfills.mjs";

const [circuitAddr, bytes = "1048576"] = process.argv.slice(2);
const { createClient, echoThrough, ECHO_PROTOCOL } = await import("./relay_echo_client.mjs");
const { multiaddr } = await import("@multiformats/multiaddr");
const node = await createClient();
try {
  const stream = await node.dialProtocol(multiaddr(circuitAddr), ECHO_PROTOCOL, {
    runOnLimitedConnection: true,
  });
  const result = await echoThrough(stream, Number(bytes));
  const relayConnection = node.getConnections().find((c) =>
    !c.remoteAddr.toString().includes("p2p-circuit")
  );
  console.log(JSON.stringify({
    runtime: `node ${process.version}`,
    relayAddr: relayConnection?.remoteAddr.toString(),
    ...result,
  }));
  await node.stop();
  process.exit(result.intact ? 0 : 1);
} catch (error) {
  console.log(
    JSON.stringify({ runtime: `node ${process.version}`, error: String(error?.stack ?? error) }),
  );
  await node.stop();
  process.exit(1);
}
