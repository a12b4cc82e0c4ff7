// End-to-end: the real program started through `deno task hopd`, probed over HTTP, by
// promtool, by `hopd health`, and by a stock js-libp2p node (none of hopd's code).
import assert from "node:assert/strict";
import { identify } from "@libp2p/identify";
import { noise } from "@libp2p/noise";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { webSockets } from "@libp2p/websockets";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { runHopdCli, spawnHopd } from "./_helpers/hopd_process.ts";
import { Arrivals } from "./_helpers/ops_probe.ts";

async function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, output: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("hopd run on defaults is ready, passes promtool, answers health, and exits 0 on SIGTERM", async (t) => {
  const hopd = await spawnHopd();
  try {
    await t.step("/ready answers 200 with ready true", async () => {
      const response = await fetch(`${hopd.opsUrl}/ready`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { ready: true, reasons: [] });
    });

    await t.step("/health answers 200", async () => {
      const response = await fetch(`${hopd.opsUrl}/health`);
      assert.equal(response.status, 200);
      assert.equal((await response.json()).status, "ok");
    });

    await t.step("/v1/status names the peer, its listeners and connection counts", async () => {
      const status = await (await fetch(`${hopd.opsUrl}/v1/status`)).json();
      assert.equal(status.peerId, hopd.peerId);
      assert.equal(status.ready, true);
      assert.equal(status.draining, false);
      assert.ok(status.listen.some((a: string) => a.includes("/tcp/") && !a.includes("/ws")));
      assert.ok(status.listen.some((a: string) => a.includes("/ws/")));
      assert.equal(typeof status.connections.total, "number");
    });

    await t.step("/metrics passes promtool check metrics and has hopd metrics", async () => {
      const response = await fetch(`${hopd.opsUrl}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /text\/plain/);
      const text = await response.text();
      for (
        const name of [
          "hopd_build_info",
          "hopd_ready 1",
          "hopd_draining 0",
          "process_cpu_seconds_total",
        ]
      ) {
        assert.ok(text.includes(name), `missing ${name}`);
      }
      const { code, output } = await promtoolCheckMetrics(text);
      assert.equal(code, 0, `promtool check metrics failed:\n${output}`);
    });

    await t.step("unknown routes answer 404 JSON", async () => {
      const response = await fetch(`${hopd.opsUrl}/nope`);
      assert.equal(response.status, 404);
      assert.equal((await response.json()).error.code, "NOT_FOUND");
    });

    await t.step("hopd health exits 0 with one line", async () => {
      const result = await runHopdCli(["health", "--url", hopd.opsUrl]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^ready: .*\n$/);
    });
  } finally {
    const status = await hopd.stop();
    assert.equal(status.code, 0, "SIGTERM must exit 0");
  }
  const after = await runHopdCli(["health", "--url", hopd.opsUrl, "--timeout", "2s"]);
  assert.equal(after.code, 2, "health must exit 2 once the node is gone");
  assert.match(after.stdout, /^unreachable: /);
});

function stockNode() {
  return createLibp2p({
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() },
  });
}

Deno.test("a stock js-libp2p node dials hopd over TCP and over WebSockets and pings it", async (t) => {
  const hopd = await spawnHopd();
  try {
    for (const transport of ["tcp", "ws"] as const) {
      await t.step(`over ${transport}`, async () => {
        const addr = hopd.listenAddrs.find((a) =>
          transport === "ws" ? a.includes("/ws/") : !a.includes("/ws")
        );
        assert.ok(addr, `no ${transport} listener in ${hopd.listenAddrs.join(", ")}`);
        // A fresh client per transport: libp2p would otherwise reuse the first connection.
        const client = await stockNode();
        try {
          const rttMs = await client.services.ping.ping(multiaddr(addr));
          assert.ok(Number.isFinite(rttMs) && rttMs >= 0, `ping over ${addr} gave ${rttMs}`);
          const metrics = await (await fetch(`${hopd.opsUrl}/metrics`)).text();
          assert.match(
            metrics,
            new RegExp(`hopd_connections\\{transport="${transport}",direction="inbound"\\} 1`),
          );
          assert.match(
            metrics,
            new RegExp(
              `hopd_connections_opened_total\\{transport="${transport}",direction="inbound"\\} 1`,
            ),
          );
        } finally {
          await client.stop();
        }
      });
    }
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("hopd run exits 1 when the ops port is taken, 78 on a bad config", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const dataDir = await Deno.makeTempDir();
    const busy = await runHopdCli([
      "run",
      "--http",
      `127.0.0.1:${port}`,
      "--data-dir",
      dataDir,
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--log-format",
      "json",
    ]);
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, /Cannot start/);
  } finally {
    taken.close();
  }
  const bad = await runHopdCli(["run", "--http", "nowhere"]);
  assert.equal(bad.code, 78);
  assert.match(bad.stderr, /'http\.listen' must be HOST:PORT.*"nowhere".*--http flag/);
});

Deno.test("under systemd, hopd sends READY=1, WATCHDOG=1 pings and STOPPING=1 to $NOTIFY_SOCKET", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/notify`;
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const messages: string[] = [];
  const arrivals = new Arrivals();
  const pump = (async () => {
    try {
      for await (const [data] of socket) {
        messages.push(new TextDecoder().decode(data));
        arrivals.arrived();
      }
    } catch {
      // closed
    }
  })();
  // Checks again on each datagram hopd sends; the bound only turns silence into a failure.
  const until = async (check: () => boolean) =>
    assert.ok(await arrivals.until(check, 10_000), `messages so far: ${JSON.stringify(messages)}`);
  const hopd = await spawnHopd({ env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: "200000" } });
  try {
    await until(() => messages.some((m) => m.startsWith("READY=1\n")));
    assert.match(
      messages.find((m) => m.startsWith("READY=1"))!,
      new RegExp(`STATUS=serving as ${hopd.peerId}`),
    );
    await until(() => messages.filter((m) => m === "WATCHDOG=1").length >= 2);
  } finally {
    assert.equal((await hopd.stop()).code, 0);
    await until(() => messages.some((m) => m.startsWith("STOPPING=1\n")));
    socket.close();
    await pump;
    await Deno.remove(dir, { recursive: true });
  }
});
