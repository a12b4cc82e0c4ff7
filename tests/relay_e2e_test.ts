// End-to-end relay interop: the real hopd program (through `deno task hopd`) relaying for
// stock js-libp2p clients (none of hopd's code) under Deno and under Node.
import { metric, transportAddr } from "./_helpers/ops_probe.ts";
import assert from "node:assert/strict";
import { REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";
import type { Stream, StreamMessageEvent } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
// @ts-types="./interop/relay_echo_client.d.ts"
import {
  createClient,
  ECHO_PROTOCOL,
  relayEcho,
  serveEcho,
  waitForCircuitAddr,
} from "./interop/relay_echo_client.mjs";

const EIGHT_MIB = 8 * 1024 * 1024;
const UNLIMITED = { HOPD_RELAY_CIRCUIT_DATA: "0", HOPD_RELAY_CIRCUIT_DURATION: "0" };

Deno.test("stock js-libp2p clients under Deno reserve on hopd and echo 8 MiB through it over TCP and WS", async (t) => {
  const hopd = await spawnHopd({ env: UNLIMITED });
  try {
    for (const transport of ["tcp", "ws"] as const) {
      await t.step(`over ${transport}`, async () => {
        const result = await relayEcho(transportAddr(hopd.listenAddrs, transport), EIGHT_MIB);
        assert.equal(result.received, EIGHT_MIB);
        assert.ok(result.intact, "echoed bytes differ from sent bytes");
        assert.ok(result.circuitAddr.includes(`/p2p/${hopd.peerId}/p2p-circuit/`));
      });
    }
    // Both directions of both echoes crossed the relay.
    const relayed = await metric(hopd.opsUrl, "hopd_relayed_bytes_total");
    assert.ok(relayed >= 4 * EIGHT_MIB, `hopd_relayed_bytes_total is ${relayed}`);
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("stock js-libp2p clients under Node 20 reserve on hopd and echo 8 MiB through it over TCP and WS", async (t) => {
  const hopd = await spawnHopd({ env: UNLIMITED });
  try {
    for (const transport of ["tcp", "ws"] as const) {
      await t.step(`over ${transport}`, async () => {
        const output = await new Deno.Command("node", {
          args: [
            "tests/interop/node_echo.mjs",
            transportAddr(hopd.listenAddrs, transport),
            String(EIGHT_MIB),
          ],
          cwd: REPO_ROOT,
          stdin: "null",
        }).output();
        const text = new TextDecoder().decode(output.stdout).trim();
        const result = JSON.parse(text.split("\n").at(-1)!);
        assert.equal(output.code, 0, text + new TextDecoder().decode(output.stderr));
        assert.match(result.runtime, /^node v/);
        assert.equal(result.received, EIGHT_MIB);
        assert.ok(result.intact);
      });
    }
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

/** A reserves on hopd, B opens an echo stream to A through it and keeps it open. */
async function openCircuit(relay: string) {
  const a = await createClient([`${relay}/p2p-circuit`]);
  const b = await createClient();
  await serveEcho(a);
  const circuitAddr = await waitForCircuitAddr(a);
  const stream = await b.dialProtocol(multiaddr(circuitAddr.toString()), ECHO_PROTOCOL, {
    runOnLimitedConnection: true,
  });
  return {
    stream,
    async close() {
      await Promise.allSettled([a.stop(), b.stop()]);
    },
  };
}

/**
 * One round trip through the circuit: resolves when the 4 bytes sent come back, so hopd was
 * relaying them (alive, the circuit open) at that moment.
 */
function roundTrip(stream: Stream): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  let echoed = 0;
  const done = (error?: Error) => {
    stream.removeEventListener("message", onMessage);
    stream.removeEventListener("close", onClose);
    if (error === undefined) resolve();
    else reject(error);
  };
  const onMessage = (event: StreamMessageEvent) => {
    echoed += event.data.byteLength;
    if (echoed >= 4) done();
  };
  const onClose = () => done(new Error("the circuit closed before the bytes came back"));
  stream.addEventListener("message", onMessage);
  stream.addEventListener("close", onClose);
  stream.send(new Uint8Array([1, 2, 3, 4]));
  return promise;
}

/** Resolves with the exit status, or undefined when `ms` pass first (a bound, not a wait). */
async function exitedWithin(status: Promise<Deno.CommandStatus>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) =>
    timer = setTimeout(() => resolve(undefined), ms)
  );
  try {
    return await Promise.race([status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("SIGTERM turns /ready 503 at once, waits for open circuits, then exits 0", async () => {
  const hopd = await spawnHopd({ env: { ...UNLIMITED, HOPD_NODE_DRAIN_TIMEOUT: "1h" } });
  const circuit = await openCircuit(transportAddr(hopd.listenAddrs, "tcp"));
  try {
    hopd.kill("SIGTERM");
    // The signal lands asynchronously: wait for hopd to say it took it (readiness turns 503
    // before that line), not for a fixed time.
    const shuttingDown = await hopd.waitForLog((r) =>
      String(r.message).startsWith("Shutting down")
    );
    assert.match(String(shuttingDown.message), /for 1 circuits/);
    const ready = await fetch(`${hopd.opsUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.ok((await ready.json()).reasons.includes("node is shutting down"));
    // Still relaying after it took the signal: bytes cross the open circuit and come back.
    await roundTrip(circuit.stream);
    await circuit.close();
    const status = await exitedWithin(hopd.status, 10_000);
    assert.equal(status?.code, 0, "must exit 0 once the circuit is gone");
  } finally {
    await circuit.close();
    hopd.kill("SIGKILL");
  }
});

Deno.test("a second stop signal exits 1 at once without waiting for the drain", async () => {
  const hopd = await spawnHopd({ env: { ...UNLIMITED, HOPD_NODE_DRAIN_TIMEOUT: "1h" } });
  const circuit = await openCircuit(transportAddr(hopd.listenAddrs, "tcp"));
  try {
    hopd.kill("SIGTERM");
    await hopd.waitForLog((r) => String(r.message).startsWith("Shutting down"));
    await roundTrip(circuit.stream);
    hopd.kill("SIGINT");
    const status = await exitedWithin(hopd.status, 5_000);
    assert.equal(status?.code, 1);
  } finally {
    await circuit.close();
    hopd.kill("SIGKILL");
  }
});
