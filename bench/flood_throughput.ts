// Issue 4 figure: a well-behaved client's relayed throughput during a flood, as a share of
// its throughput without the flood (goal ≥ 80%). hopd runs with its DEFAULT limits on
// 127.0.0.1 and ::1; the well-behaved pair (stock js-libp2p clients, 127.0.0.1) reserves
// and echoes --mib MiB through hopd; the attacker (bench/flood/attacker.ts, its own process,
// from ::1) floods raw TCP connections and reservation attempts for the whole measurement.
//
//   deno run -A bench/flood_throughput.ts [--mib 32] [--runs 3]
//
// Prints one JSON document.
// @ts-types="../tests/interop/relay_echo_client.d.ts"
import { relayEcho } from "../tests/interop/relay_echo_client.mjs";

const REPO_ROOT = new URL("../", import.meta.url).pathname;
const GOAL_SHARE = 0.8;

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

async function startHopd() {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-flood-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=hopd",
      "--quiet",
      "main.ts",
      "run",
      "--http",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      "--log-format",
      "json",
      "--log-level",
      "info",
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--listen",
      "/ip6/::1/tcp/0",
    ],
    cwd: REPO_ROOT,
    // Unlimited circuits so the echo measures throughput, not the circuit data limit.
    env: { HOPD_RELAY_CIRCUIT_DATA: "0", HOPD_RELAY_CIRCUIT_DURATION: "0" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let addrs: string[] | undefined;
  let opsUrl: string | undefined;
  while (addrs === undefined || opsUrl === undefined) {
    const { value, done } = await lines.read();
    if (done) throw new Error("hopd exited during start");
    buffer += value;
    for (const line of buffer.split("\n").slice(0, -1)) {
      const props = JSON.parse(line).properties ?? {};
      if (Array.isArray(props.addrs)) addrs = props.addrs;
      if (typeof props.url === "string") opsUrl = props.url;
    }
    buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
  }
  // Keep draining stderr so the child never blocks on a full pipe.
  (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })();
  return { child, addrs, opsUrl, dataDir };
}

async function metric(opsUrl: string, prefix: string): Promise<number> {
  const text = await (await fetch(`${opsUrl}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(prefix)).reduce(
    (sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)),
    0,
  );
}

async function echoMibPerSecond(relayAddr: string, bytes: number): Promise<number> {
  const result = await relayEcho(relayAddr, bytes);
  if (!result.intact) throw new Error("echo came back damaged");
  return (bytes / 1_048_576) / (result.elapsedMs / 1000);
}

const mib = arg("mib", 32);
const runs = arg("runs", 3);
const bytes = mib * 1_048_576;
const hopd = await startHopd();
const v4 = hopd.addrs.find((a) => a.startsWith("/ip4/"))!;
const v6 = hopd.addrs.find((a) => a.startsWith("/ip6/"))!;
const v6Port = /\/tcp\/(\d+)/.exec(v6)![1];
const quiet: number[] = [];
const flooded: number[] = [];
let attack: Record<string, number> = {};
try {
  await echoMibPerSecond(v4, 4 * 1_048_576); // warm-up
  for (let run = 0; run < runs; run++) {
    quiet.push(await echoMibPerSecond(v4, bytes));
    const attacker = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "bench/flood/attacker.ts",
        "--tcp",
        `[::1]:${v6Port}`,
        "--relay",
        v6,
        "--seconds",
        "8",
      ],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // let the flood build up
    flooded.push(await echoMibPerSecond(v4, bytes));
    attack = JSON.parse(new TextDecoder().decode((await attacker.output()).stdout).trim());
  }
} finally {
  const refusals = await metric(hopd.opsUrl, "hopd_rate_limited_total");
  hopd.child.kill("SIGTERM");
  await hopd.child.status;
  await Deno.remove(hopd.dataDir, { recursive: true });
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const share = median(flooded) / median(quiet);
  console.log(JSON.stringify(
    {
      bench: "flood_throughput",
      date: new Date().toISOString(),
      mibPerEcho: mib,
      runs,
      quietMiBps: quiet.map((x) => Number(x.toFixed(1))),
      floodedMiBps: flooded.map((x) => Number(x.toFixed(1))),
      share: Number(share.toFixed(3)),
      goal: GOAL_SHARE,
      meets: share >= GOAL_SHARE,
      lastAttack: attack,
      hopdRateLimitedTotal: refusals,
    },
    null,
    2,
  ));
}
