// A long transfer through a shaped circuit, between stock js-libp2p 3.3 nodes on Node 20 and
// on Deno: 8 MiB at bandwidth_per_circuit = 512 KiB/s takes 16 s, past the first keep-alive
// of js-libp2p's connection monitor (a ping on every connection every 10 s, aborted after
// 5 s at first).
//
// Who reset the 8 MiB transfer the issue saw after 7.16 MiB: the receiving node. Its
// connection monitor pinged at 10 s; the answer travels behind the bytes the sender has
// queued toward the relay, and the sender queues up to its yamux window (grown to 16 MiB by
// yamux's auto-tuning), so at 512 KiB/s it came back later than 5 s and the receiver aborted
// the relayed connection ("aborting connection due to ping failure", TimeoutError). 4 and 6
// MiB finish before a ping waits that long. hopd relays the bytes in order, as it must: it
// cannot move the answer ahead of them (they are one encrypted stream). On any path that
// slow a js-libp2p node with default settings does the same (upstream: js-libp2p#3463,
// #3504); a client that moves bulk through a shaped relay keeps its connections on a failed
// ping (`connectionMonitor: { abortConnectionOnPingFailure: false }`), and then finishes.
import assert from "node:assert/strict";
import { REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";
import { tcpAddr } from "./_helpers/ops_probe.ts";

const KIB = 1024;
const BYTES = 8 * 1024 * KIB;
const CAP = 512 * KIB;
const CLIENT = `${REPO_ROOT}tests/_helpers/count_push_client.mjs`;

interface PushResult {
  runtime: string;
  bytes: number;
  received: number;
  ms: number;
  error?: string;
  targetError?: string;
}

async function push(runtime: "node" | "deno", relay: string, monitor: "default" | "keep") {
  const args = ["--relay", relay, "--bytes", String(BYTES), "--monitor", monitor];
  const [command, prefix] = runtime === "node"
    ? ["node", [CLIENT]]
    : [Deno.execPath(), ["run", "-A", "--quiet", CLIENT]];
  const output = await new Deno.Command(command, {
    args: [...prefix, ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!;
  return { code: output.code, result: JSON.parse(line) as PushResult };
}

Deno.test("an 8 MiB transfer through a 512 KiB/s circuit finishes at the cap, with stock js-libp2p on Node 20 and on Deno", async (t) => {
  const hopd = await spawnHopd({
    env: {
      HOPD_RELAY_CIRCUIT_DATA: "0",
      HOPD_RELAY_CIRCUIT_DURATION: "0",
      HOPD_LIMITS_BANDWIDTH_PER_CIRCUIT: "512KiB",
    },
  });
  try {
    const relay = tcpAddr(hopd.listenAddrs, "ip4");
    // The three transfers run at once, each on its own circuit under its own cap: each spends
    // its 16 s waiting on the shaper, so one after another they held a test worker for 50 s.
    const [node, deno, nodeDefault] = await Promise.all([
      push("node", relay, "keep"),
      push("deno", relay, "keep"),
      push("node", relay, "default"),
    ]);
    for (const [runtime, { code, result }] of [["node", node], ["deno", deno]] as const) {
      await t.step(`${runtime}, keeping connections on a failed ping`, () => {
        console.log(JSON.stringify(result));
        assert.equal(code, 0, JSON.stringify(result));
        assert.equal(result.received, BYTES);
        // Not faster than the cap allows: bytes <= cap x T + burst.
        assert.ok(result.ms >= (BYTES - CAP / 10) / CAP * 1000, `${result.ms} ms`);
      });
    }
    await t.step("node, default connection monitor: the receiver aborts on its first ping", () => {
      const { code, result } = nodeDefault;
      console.log(JSON.stringify(result));
      // When this step fails because the transfer finished, js-libp2p no longer aborts a busy
      // connection on one late ping: drop this step and the client note in docs/LIMITS.md.
      assert.notEqual(code, 0);
      assert.ok(result.received < BYTES, `received ${result.received}`);
      assert.match(result.targetError ?? "", /TimeoutError/);
    });
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});
