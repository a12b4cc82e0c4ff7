// Federation report traffic per relay at 100 members, simulated in one process: N real
// federation members (src/federation's FederationService on src/host's libp2p host: TCP,
// Noise, yamux, identify, ping and gossipsub with hopd's federationPubSub settings) on
// loopback, each publishing real load reports. Members bootstrap from member 0 and find the
// rest through the reports, as hopd does (so they end fully connected).
//
//   deno run -A bench/federation_traffic.ts [--members 100] [--interval-ms 1000]
//                                           [--window-s 20] [--settle-s 20]
//
// Measured: TCP payload bytes sent and received on every member connection (`ss -tin`:
// bytes_sent, bytes_received, on sockets to or from a member's listen port) over the window,
// divided by the member count (both ends of every connection are members in this process). Also: reports each member accepted
// per second over the window against the N-1 expected, which shows whether one process kept
// up with N members (if it could not, the time scale is stretched: see --interval-ms, and
// the figure is given per report interval as well).

import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { MetricsRegistry } from "../src/metrics/mod.ts";
import type { ResolvedFederationConfig } from "../src/config/mod.ts";
import { loadConfig } from "../src/config/mod.ts";
import { type Federation, federation, federationPubSub } from "../src/federation/mod.ts";
import { createHost, type Host } from "../src/host/mod.ts";

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

/**
 * TCP payload bytes on every connection of the simulated members: `ss -tin` filtered to the
 * sockets whose local or remote port is a member's listen port (both ends of every member
 * connection are in this process, and no other process uses these ports), keyed by socket.
 */
async function tcpBytes(
  ports: readonly number[],
): Promise<Map<string, { sent: number; received: number }>> {
  const filter = ports.flatMap((p) => [`sport = :${p}`, `dport = :${p}`]).join(" or ");
  const output = await new Deno.Command("ss", {
    args: ["-tinH", "state", "established", `( ${filter} )`],
    stdout: "piped",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).split("\n");
  const sockets = new Map<string, { sent: number; received: number }>();
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i]!;
    if (line.startsWith("\t") || line.trim() === "") continue;
    const info = lines[i + 1]!;
    sockets.set(line.trim().split(/\s+/).slice(2, 4).join(" "), {
      sent: Number(/bytes_sent:(\d+)/.exec(info)?.[1] ?? 0),
      received: Number(/bytes_received:(\d+)/.exec(info)?.[1] ?? 0),
    });
  }
  return sockets;
}

async function rejected(registry: MetricsRegistry): Promise<Record<string, number>> {
  const values = await registry.values("hopd_federation_reports_rejected_total");
  return Object.fromEntries(values.map((v) => [String(v.labels.reason), v.value]));
}

function received(registry: MetricsRegistry): Promise<number> {
  return registry.values("hopd_federation_reports_received_total")
    .then((values) => values.reduce((sum, v) => sum + v.value, 0));
}

interface Member {
  readonly host: Host;
  readonly federation: Federation;
  readonly registry: MetricsRegistry;
}

if (import.meta.main) {
  const count = arg("members", 100);
  const intervalMs = arg("interval-ms", 1_000);
  const windowS = arg("window-s", 20);
  const settleS = arg("settle-s", 20);
  const base = await loadConfig();
  const keys = await Promise.all(Array.from({ length: count }, () => generateKeyPair("Ed25519")));
  const ids = keys.map((key) => peerIdFromPrivateKey(key).toString());
  const members: Member[] = [];
  let bootstrap: string[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const config: ResolvedFederationConfig = {
      ...base.federation,
      enabled: true,
      members: ids,
      bootstrap,
      intervalMs,
      suspectAfterMs: intervalMs * 2,
      deadAfterMs: intervalMs * 2.5,
    };
    const host = await createHost({
      node: { listen: ["/ip4/127.0.0.1/tcp/0"], announce: [] },
      connections: base.connections,
      tls: {},
      privateKeyProtobuf: privateKeyToProtobuf(keys[i]!),
      pubsub: federationPubSub(config, ids[i]!),
    });
    await host.start();
    const registry = new MetricsRegistry();
    const member = federation(config)({
      libp2p: host.libp2p,
      pubsub: host.pubsub!,
      registry,
      relayCapacity: { maxReservations: 16_384, maxCircuits: 4_096 },
      local: () => ({
        reservations: 100 + i,
        circuits: i,
        bytesPerSecondIn: 1_000_000,
        bytesPerSecondOut: 900_000,
        cpu: 0.2,
        memoryBytes: 200_000_000,
        verdict: "healthy",
        draining: false,
      }),
      ping: (peerId, signal) => host.ping(peerId, signal),
    });
    await member.start();
    members.push({ host, federation: member, registry });
    if (i === 0) bootstrap = host.libp2p.getMultiaddrs().map(String);
  }
  const startedMs = performance.now() - started;

  await new Promise((resolve) => setTimeout(resolve, settleS * 1_000));
  const connections = members.reduce((n, m) => n + m.host.libp2p.getConnections().length, 0);
  const aliveSeen = members.map((m) => m.federation.summary().members.alive);

  const ports = members.map((m) =>
    Number(m.host.libp2p.getMultiaddrs()[0]!.getComponents().find((c) => c.name === "tcp")!.value)
  );
  const receivedBefore = await Promise.all(members.map((m) => received(m.registry)));
  const before = await tcpBytes(ports);
  const windowStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, windowS * 1_000));
  const elapsedS = (performance.now() - windowStart) / 1_000;
  const after = await tcpBytes(ports);
  const receivedAfter = await Promise.all(members.map((m) => received(m.registry)));
  const rejections: Record<string, number> = {};
  for (const m of members) {
    for (const [reason, n] of Object.entries(await rejected(m.registry))) {
      rejections[reason] = (rejections[reason] ?? 0) + n;
    }
  }

  let sent = 0;
  let got = 0;
  for (const [key, now] of after) {
    const then = before.get(key) ?? { sent: 0, received: 0 };
    sent += now.sent - then.sent;
    got += now.received - then.received;
  }
  const reportsPerSecond = receivedAfter.map((v, i) => (v - receivedBefore[i]!) / elapsedS);
  const meanReports = reportsPerSecond.reduce((a, b) => a + b, 0) / count;
  const intervalsPerSecond = 1_000 / intervalMs;
  console.log(JSON.stringify(
    {
      bench: "federation_traffic",
      members: count,
      intervalMs,
      windowS: Math.round(elapsedS * 10) / 10,
      startupMs: Math.round(startedMs),
      connectionsPerMember: Math.round(connections / count),
      aliveMembersSeen: { min: Math.min(...aliveSeen), max: Math.max(...aliveSeen) },
      reportsReceivedPerMemberPerSecond: {
        mean: Math.round(meanReports * 10) / 10,
        expected: (count - 1) * intervalsPerSecond,
      },
      rejectedSinceStart: rejections,
      perRelay: {
        sentBytesPerSecond: Math.round(sent / count / elapsedS),
        receivedBytesPerSecond: Math.round(got / count / elapsedS),
        sentBytesPerInterval: Math.round(sent / count / elapsedS / intervalsPerSecond),
      },
    },
    null,
    2,
  ));
  Deno.exit(0);
}
