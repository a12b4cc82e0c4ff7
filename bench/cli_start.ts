// What one short `hopd` command costs the host: wall time and CPU time from spawn to exit, for
// the commands operators' scripts and probes call (`hopd health` from a systemd timer or a load
// balancer's check, `hopd version`, `hopd config example`), in both forms hopd runs in: from
// source (`deno run -P=hopd main.ts`, as `deno task hopd` does) and from the bundle the release
// binary embeds (scripts/bundle.sh; `deno run dist/hopd.js`).
//
//   deno run -A bench/cli_start.ts [--baseline DIR] [--runs 20]
//
// DIR is another checkout with its node_modules (`git worktree add --detach DIR <commit>`, then
// `deno install`), measured in the same run, its commands interleaved with this checkout's. CPU
// time is the children's user + system time from this process's /proc/self/stat (cutime,
// cstime), read before and after each command: 10 ms ticks, so the figures are medians over
// --runs. `hopd health` probes one node of this checkout, started once. The machine is shared:
// run it under `flock -x /tmp/hopd-quiet.lock`.
//
// Prints one JSON document.

import { join } from "node:path";
import { numberArg } from "./_args.ts";

const REPO_ROOT = new URL("../", import.meta.url).pathname;
const TICKS_PER_SECOND = 100; // sysconf(_SC_CLK_TCK) on Linux

function childCpuSeconds(): number {
  // Fields after the command name (which sits in parentheses): cutime and cstime are the 16th
  // and 17th of the whole line, the 14th and 15th after ")".
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function bundle(checkout: string): Promise<string> {
  const outdir = await Deno.makeTempDir({ prefix: "hopd-cli-start-bundle-" });
  const result = await new Deno.Command("bash", {
    args: ["scripts/bundle.sh", "--outdir", outdir],
    cwd: checkout,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(`bundle in ${checkout} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
  return join(outdir, "hopd.js");
}

async function startNode(): Promise<{ child: Deno.ChildProcess; url: string; dataDir: string }> {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-cli-start-" });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-P=hopd", "--quiet", "main.ts", "run", "--http", `127.0.0.1:${port}`],
      ...["--data-dir", dataDir, "--log-level", "warning", "--listen", "/ip4/127.0.0.1/tcp/0"],
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    const ready = await fetch(`${url}/ready`).then(async (r) => {
      await r.body?.cancel();
      return r.status === 200;
    }, () => false);
    if (ready) return { child, url, dataDir };
    if (performance.now() > deadline) throw new Error("the node for `hopd health` never got ready");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Sample {
  wallMs: number[];
  cpuMs: number[];
}

const runs = numberArg("--runs", 20);
const at = Deno.args.indexOf("--baseline");
const checkouts: Record<string, string> = {};
if (at >= 0) checkouts.baseline = Deno.args[at + 1]!;
checkouts.this = REPO_ROOT;

const node = await startNode();
const commands: Record<string, string[]> = {
  version: ["version"],
  health: ["health", "--url", node.url],
  "config example": ["config", "example"],
};
const forms: { checkout: string; side: string; form: string; argv: string[]; cwd: string }[] = [];
for (const [side, checkout] of Object.entries(checkouts)) {
  // -P=hopd reads the permission set from the checkout's deno.json: the bundle, in a directory
  // of its own, is told where it is (as scripts/compile.sh tells deno compile).
  forms.push({ checkout, side, form: "source", argv: ["main.ts"], cwd: checkout });
  const config = join(checkout, "deno.json");
  forms.push({
    checkout,
    side,
    form: "bundle",
    argv: ["--config", config, await bundle(checkout)],
    cwd: checkout,
  });
}
const samples = new Map<string, Sample>();
try {
  for (let run = 0; run < runs; run++) {
    for (const f of forms) {
      for (const [name, args] of Object.entries(commands)) {
        const cpuBefore = childCpuSeconds();
        const started = performance.now();
        const output = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-P=hopd", "--quiet", ...f.argv, ...args],
          cwd: f.cwd,
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).output();
        const wallMs = performance.now() - started;
        const cpuMs = (childCpuSeconds() - cpuBefore) * 1000;
        if (!output.success) {
          throw new Error(
            `${f.side} ${f.form} hopd ${args.join(" ")} exited ${output.code}: ` +
              new TextDecoder().decode(output.stderr),
          );
        }
        const key = `${f.side} ${f.form} ${name}`;
        const sample = samples.get(key) ?? { wallMs: [], cpuMs: [] };
        sample.wallMs.push(wallMs);
        sample.cpuMs.push(cpuMs);
        samples.set(key, sample);
      }
    }
  }
} finally {
  node.child.kill("SIGTERM");
  await node.child.status;
  await Deno.remove(node.dataDir, { recursive: true });
}

const results = [...samples].map(([key, s]) => ({
  command: key,
  wallMsMedian: Math.round(median(s.wallMs)),
  cpuMsMedian: Math.round(median(s.cpuMs)),
  wallMsMax: Math.round(Math.max(...s.wallMs)),
}));
console.log(JSON.stringify(
  {
    runs,
    checkouts,
    loadAverage: Deno.loadavg(),
    date: new Date().toISOString(),
    results,
  },
  null,
  2,
));
