// Whole-process figures for the foundation (issue 2): start to /ready 200, idle RSS and
// /ready latency. Runs main.ts with the production permission set (deno.json
// "permissions.hopd"), exactly as `deno task hopd run` does, on loopback ports.
//
//   deno run -A bench/startup.ts [--runs 5] [--requests 5000]
//
// Prints one JSON document and compares each figure with its goal.

const REPO_ROOT = new URL("../", import.meta.url).pathname;
const GOALS = { startToReadyMs: 1_000, idleRssMb: 100, readyP99Ms: 2 } as const;

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return kb / 1024;
}

async function startOnce(port: number) {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-bench-" });
  const startedAt = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P=hopd",
      "--quiet",
      "main.ts",
      "run",
      "--http",
      `127.0.0.1:${port}`,
      "--data-dir",
      dataDir,
      "--log-level",
      "warning",
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--listen",
      "/ip4/127.0.0.1/tcp/0/ws",
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      await response.body?.cancel();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - startedAt > 30_000) throw new Error("hopd did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { child, startToReadyMs: performance.now() - startedAt, dataDir };
}

async function stop(child: Deno.ChildProcess, dataDir: string) {
  child.kill("SIGTERM");
  await child.status;
  await Deno.remove(dataDir, { recursive: true });
}

const runs = arg("runs", 5);
const requests = arg("requests", 5_000);
const startTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const { child, startToReadyMs, dataDir } = await startOnce(freePort());
  startTimes.push(startToReadyMs);
  await stop(child, dataDir);
}

// One more start for the steady-state figures.
const port = freePort();
const { child, dataDir } = await startOnce(port);
await new Promise((resolve) => setTimeout(resolve, 5_000));
const idleRssMb = rssMb(child.pid);
const latenciesMs: number[] = [];
const url = `http://127.0.0.1:${port}/ready`;
for (let i = 0; i < requests + 500; i++) {
  const t0 = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (i >= 500) latenciesMs.push(performance.now() - t0);
}
await stop(child, dataDir);

startTimes.sort((a, b) => a - b);
latenciesMs.sort((a, b) => a - b);
const result = {
  bench: "startup",
  date: new Date().toISOString(),
  deno: Deno.version.deno,
  runs,
  startToReadyMs: {
    median: Number(percentile(startTimes, 50).toFixed(1)),
    max: Number(startTimes.at(-1)!.toFixed(1)),
    goal: GOALS.startToReadyMs,
  },
  idleRssMb: { value: Number(idleRssMb.toFixed(1)), goal: GOALS.idleRssMb },
  readyLatencyMs: {
    requests,
    p50: Number(percentile(latenciesMs, 50).toFixed(3)),
    p99: Number(percentile(latenciesMs, 99).toFixed(3)),
    goal_p99: GOALS.readyP99Ms,
  },
  meets: {
    startToReady: percentile(startTimes, 50) <= GOALS.startToReadyMs,
    idleRss: idleRssMb <= GOALS.idleRssMb,
    readyP99: percentile(latenciesMs, 99) <= GOALS.readyP99Ms,
  },
};
console.log(JSON.stringify(result, null, 2));
