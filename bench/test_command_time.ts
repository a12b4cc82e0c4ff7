// The README test command's wall time (issue 17's "done when": unchanged or faster), this
// checkout against a baseline checkout in the same invocation, the baseline first:
//
//   deno run -A bench/test_command_time.ts --baseline DIR [--ci]
//
// DIR is another checkout with its node_modules (`git archive <commit> | tar -x -C DIR`, then
// `deno install` there). Each side runs `deno task test` in its checkout, timed from spawn to
// exit; its phases' counts and seconds come from the command's closing summary. With --ci each
// side also does what its .ci/run does for the coverage floors after the tests: a checkout whose
// scripts/test.sh knows TEST_COVERAGE_DIR runs the test command with it and then
// `deno task coverage --report DIR`; an older one runs `deno task coverage`, the unit suites
// again. The machine is shared: run it under `flock -x /tmp/hopd-quiet.lock`. The load average
// and every process outside this run seen using 20% of a core or more (sampled every 5 s) are
// reported with the figures.
//
// Prints one JSON document (also written to bench/.out/test_command_time.json); each side's
// output goes to bench/.out/test_command_<side>.log.

interface Phase {
  readonly name: string;
  readonly passed: number;
  readonly failed: number;
  readonly seconds: number;
}

interface Side {
  readonly side: "baseline" | "this";
  readonly dir: string;
  readonly testCommandSeconds: number;
  readonly exitCode: number;
  readonly phases: Phase[];
  readonly total: string | undefined;
  /** The coverage floor step after the tests (--ci): how, its seconds and exit code. */
  readonly coverage?: { readonly command: string; readonly seconds: number; readonly code: number };
}

const OUT = new URL("./.out/", import.meta.url).pathname;
const THIS_DIR = new URL("../", import.meta.url).pathname;

/** The phases of a test command's closing summary ("  unit   482 passed,   0 failed   91s"). */
export function parseSummary(output: string): { phases: Phase[]; total: string | undefined } {
  const text = output; // run with NO_COLOR=1: no escapes to strip
  const at = text.lastIndexOf("==> summary\n");
  if (at < 0) return { phases: [], total: undefined };
  const phases: Phase[] = [];
  let total: string | undefined;
  for (const line of text.slice(at).split("\n")) {
    const m = line.match(/^\s+(\S+)\s+(\d+) passed,\s+(\d+) failed\s+(\d+)s/);
    if (m !== null) {
      phases.push({ name: m[1]!, passed: +m[2]!, failed: +m[3]!, seconds: +m[4]! });
    } else if (line.startsWith("tests: ")) total = line;
  }
  return { phases, total };
}

async function timed(
  args: string[],
  dir: string,
  env: Record<string, string>,
  log: Deno.FsFile,
): Promise<{ seconds: number; code: number; output: string }> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: dir,
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      chunks.push(decoder.decode(chunk, { stream: true }));
      await log.write(chunk);
    }
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  return {
    seconds: Math.round((performance.now() - started) / 100) / 10,
    code: status.code,
    output: chunks.join(""),
  };
}

async function runSide(side: Side["side"], dir: string, ci: boolean): Promise<Side> {
  const log = await Deno.open(`${OUT}test_command_${side}.log`, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    const script = await Deno.readTextFile(`${dir}/scripts/test.sh`);
    const oneRun = ci && script.includes("TEST_COVERAGE_DIR");
    const coverageDir = oneRun ? await Deno.makeTempDir({ prefix: "hopd-test-time-" }) : "";
    const env: Record<string, string> = oneRun ? { TEST_COVERAGE_DIR: coverageDir } : {};
    const test = await timed(["task", "test"], dir, env, log);
    let coverage: Side["coverage"];
    if (ci) {
      const args = oneRun ? ["task", "coverage", "--report", coverageDir] : ["task", "coverage"];
      const run = await timed(args, dir, {}, log);
      coverage = { command: `deno ${args.join(" ")}`, seconds: run.seconds, code: run.code };
      if (oneRun) await Deno.remove(coverageDir, { recursive: true });
    }
    return {
      side,
      dir,
      testCommandSeconds: test.seconds,
      exitCode: test.code,
      ...parseSummary(test.output),
      ...(coverage === undefined ? {} : { coverage }),
    };
  } finally {
    log.close();
  }
}

/** Our process and its descendants, from `ps`'s pid/ppid table. */
function descendants(rows: { pid: number; ppid: number }[], root: number): Set<number> {
  const ours = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const row of rows) {
      if (!ours.has(row.pid) && ours.has(row.ppid)) {
        ours.add(row.pid);
        grew = true;
      }
    }
  }
  return ours;
}

/** Samples the load average and the busy processes that are not this run's. */
function watchMachine(): { stop: () => { load: number[]; others: string[] } } {
  const load: number[] = [];
  const others = new Set<string>();
  const sample = async () => {
    load.push(Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]));
    const ps = await new Deno.Command("ps", { args: ["-eo", "pid=,ppid=,pcpu=,args="] }).output();
    const rows = new TextDecoder().decode(ps.stdout).split("\n").flatMap((line) => {
      const m = line.trim().match(/^(\d+)\s+(\d+)\s+([\d.]+)\s+(.*)$/);
      return m === null ? [] : [{ pid: +m[1]!, ppid: +m[2]!, pcpu: +m[3]!, args: m[4]! }];
    });
    const ours = descendants(rows, Deno.pid);
    for (const row of rows) {
      if (!ours.has(row.pid) && row.pcpu >= 20) others.add(row.args.slice(0, 100));
    }
  };
  // A process sampler, not a timer anything waits on: real time is the point here.
  const timer = setInterval(() => void sample(), 5_000);
  void sample();
  return {
    stop: () => {
      clearInterval(timer);
      return { load, others: [...others].sort() };
    },
  };
}

async function main(): Promise<void> {
  const at = Deno.args.indexOf("--baseline");
  const baseline = at < 0 ? undefined : Deno.args[at + 1];
  if (baseline === undefined) {
    throw new TypeError("usage: deno run -A bench/test_command_time.ts --baseline DIR [--ci]");
  }
  const ci = Deno.args.includes("--ci");
  await Deno.mkdir(OUT, { recursive: true });
  const machine = watchMachine();
  const startedAt = new Date().toISOString();
  const sides = [await runSide("baseline", baseline, ci), await runSide("this", THIS_DIR, ci)];
  const { load, others } = machine.stop();
  const sorted = [...load].sort((a, b) => a - b);
  const [base, self] = sides as [Side, Side];
  const withCoverage = (s: Side) => s.testCommandSeconds + (s.coverage?.seconds ?? 0);
  const result = {
    figure: "README test command wall time (deno task test)",
    startedAt,
    finishedAt: new Date().toISOString(),
    ci,
    sides,
    thisMinusBaselineSeconds: Math.round((self.testCommandSeconds - base.testCommandSeconds) * 10) /
      10,
    ...(ci
      ? {
        ciTestsAndCoverageMinusBaselineSeconds:
          Math.round((withCoverage(self) - withCoverage(base)) * 10) / 10,
      }
      : {}),
    loadAverage1m: { min: sorted[0], median: sorted[sorted.length >> 1], max: sorted.at(-1) },
    otherBusyProcesses: others,
  };
  const json = JSON.stringify(result, null, 2);
  await Deno.writeTextFile(`${OUT}test_command_time.json`, json + "\n");
  console.log(json);
}

if (import.meta.main) await main();
