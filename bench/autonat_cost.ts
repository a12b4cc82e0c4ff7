// What hopd's AutoNAT v1 server ([autonat], src/autonat/) costs the relay, measured in the NAT
// lab of tests/_helpers/netns.ts (root: network namespaces) so that the requester has a
// public address to dial back, as on the internet.
//
// One hopd in the lab's public namespace, rate limits off for the run
// (HOPD_AUTONAT_DIALS_PER_PEER=0, HOPD_AUTONAT_DIALS_GLOBAL=0); one stock js-libp2p
// requester (bench/autonat/_requester.ts) sends `--n` requests over one connection,
// `--concurrency` at a time (hopd takes 2 AutoNAT streams at once per connection, libp2p ping 1), in three rounds on the same hopd:
//
//   ping      libp2p pings: a stream opened and answered, no dial-back (the baseline)
//   reachable AutoNAT DIALs from a public host: each one a dial-back that succeeds (a new
//             TCP connection, Noise, yamux, closed at once), answered OK
//   natted    AutoNAT DIALs from behind an eim NAT: each dial-back is dropped by the NAT and
//             ends at hopd's dial timeout (HOPD_AUTONAT_DIAL_TIMEOUT, 2 s here), answered
//             E_DIAL_ERROR
//
// For each round: hopd's CPU seconds (utime + stime of every process in its namespace, from
// /proc) and RSS, per request. The default limits (3 per peer and 30 in total per minute)
// then bound the worst case: 30 dial-backs a minute times the cost of one.
//
//   deno run -A bench/autonat_cost.ts [--n 300] [--natted-n 40] [--concurrency 1]
import type { LabHost, NatLab } from "../tests/_helpers/netns.ts";
import { inLabWithHopd } from "../tests/_helpers/lab_hopd.ts";
import { numberArg } from "./_args.ts";
import { cpuSeconds, rssKib } from "./relay_vs_stock/_proc.ts";

const n = numberArg("--n", 300);
/** Natted requests each wait out the dial timeout (2 s a target): fewer of them. */
const nattedN = numberArg("--natted-n", 40);
const concurrency = numberArg("--concurrency", 1);
const REQUESTER = new URL("./autonat/_requester.ts", import.meta.url).pathname;

/** The pids of every process in `ns` (hopd's `deno task` and its `deno run`). */
async function pidsIn(ns: string): Promise<number[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "pids", ns], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").map(Number).filter((p) => p > 0);
}

async function hopdUsage(lab: NatLab): Promise<{ cpuS: number; rssKib: number }> {
  let cpuS = 0;
  let rss = 0;
  for (const pid of await pidsIn(lab.publicNs)) {
    try {
      cpuS += await cpuSeconds(pid);
      rss = Math.max(rss, await rssKib(pid));
    } catch { /* exited between the listing and the read */ }
  }
  return { cpuS, rssKib: rss };
}

/** hopd's CPU seconds per second while nothing is asked of it. */
async function idleRate(lab: NatLab, seconds: number): Promise<number> {
  const before = await hopdUsage(lab);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return ((await hopdUsage(lab)).cpuS - before.cpuS) / seconds;
}

async function round(
  lab: NatLab,
  host: LabHost,
  relay: string,
  options: { mode: "ping" | "autonat"; n: number; idleCpuPerS: number },
) {
  const { mode, n } = options;
  const before = await hopdUsage(lab);
  const out = await lab.run(host.ns, Deno.execPath(), [
    "run",
    "-A",
    REQUESTER,
    "--relay",
    relay,
    "--ip",
    host.ip,
    "--mode",
    mode,
    "--n",
    String(n),
    "--concurrency",
    String(concurrency),
  ]);
  const after = await hopdUsage(lab);
  const result = JSON.parse(out.trim().split("\n").at(-1)!);
  // What hopd spends anyway over the round's wall time is not the requests' cost.
  const cpuS = after.cpuS - before.cpuS - options.idleCpuPerS * result.wallMs / 1000;
  return {
    ...result,
    hopdCpuS: Number(cpuS.toFixed(3)),
    hopdCpuMsPerRequest: Number((cpuS * 1000 / n).toFixed(3)),
    hopdRssKib: after.rssKib,
  };
}

await inLabWithHopd({
  a: "eim",
  b: "public",
  env: {
    HOPD_POLICY_ENABLED: "false",
    HOPD_AUTONAT_DIALS_PER_PEER: "0",
    HOPD_AUTONAT_DIALS_GLOBAL: "0",
    HOPD_AUTONAT_DIAL_TIMEOUT: "2s",
  },
}, async ({ lab, relay }) => {
  const idleCpuPerS = await idleRate(lab, 10);
  const ping = await round(lab, lab.b, relay, { mode: "ping", n, idleCpuPerS });
  const reachable = await round(lab, lab.b, relay, { mode: "autonat", n, idleCpuPerS });
  const natted = await round(lab, lab.a, relay, { mode: "autonat", n: nattedN, idleCpuPerS });
  const perMinuteAtLimit = 30;
  console.log(JSON.stringify(
    {
      bench: "autonat_cost",
      n,
      concurrency,
      idleCpuMsPerS: Number((idleCpuPerS * 1000).toFixed(3)),
      rounds: { ping, reachable, natted },
      worstCaseAtDefaultLimits: {
        dialBacksPerMinute: perMinuteAtLimit,
        cpuShareOfOneCore: Number(
          (perMinuteAtLimit * reachable.hopdCpuMsPerRequest / 60_000).toFixed(5),
        ),
      },
    },
    null,
    2,
  ));
});
