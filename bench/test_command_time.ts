// The README test command's wall time (issue 17's "done when": unchanged or faster), a checkout
// against a baseline checkout in the same invocation, the baseline first:
//
//   deno run -A bench/test_command_time.ts --baseline DIR [--this DIR] [--label NAME] [--ci]
//
// DIR is another checkout with its node_modules (`git worktree add --detach DIR <commit>`, then
// `deno install` there); `--this` defaults to the checkout this script is in. Each side runs
// `deno task test` in its checkout, timed from spawn to exit, with the CPU time it and its
// descendants used (GNU time: half of it is the least wall time two cores allow). Its phases'
// counts and seconds come from the command's closing summary; a checkout from before that
// summary (1c23018) gets them from each `deno test`'s own summary line, named in the order its
// scripts/test.sh runs them (parallel, serial). Per test file, the seconds its top-level tests took (their sum: a file's
// tests run one after another) and its failures, so a difference between the sides can be traced
// to the files that cost it (`fileDiff`). With --ci each side also does what its .ci/run does for
// the coverage floors after the tests: a checkout whose scripts/test.sh knows TEST_COVERAGE_DIR
// runs the test command with it and then `deno task coverage --report DIR`; an older one runs
// `deno task coverage`, the unit suites again. The machine is shared: run it under
// `flock -x /tmp/hopd-quiet.lock`. The load average and every process outside this run seen using
// 20% of a core or more (sampled every 5 s) are reported with the figures, and so is each time
// the dev machine's deno wrapper made a `deno test` wait for a slot.
//
// Prints one JSON document (also written to bench/.out/test_command_time[_NAME].json); each
// side's output goes to bench/.out/test_command[_NAME]_<side>.log.

interface Phase {
  readonly name: string;
  readonly passed: number;
  readonly failed: number;
  readonly seconds: number;
}

/** One test file's share of a run. */
interface FileTime {
  /** Sum of its top-level tests' durations, in seconds (its tests run one after another). */
  readonly seconds: number;
  readonly tests: number;
  readonly failed: number;
}

interface Side {
  readonly side: "baseline" | "this";
  readonly dir: string;
  /** `git rev-parse --short HEAD` of the checkout. */
  readonly commit: string;
  readonly testCommandSeconds: number;
  /**
   * The CPU time the test command and its descendants used, user and system, in seconds: on
   * this 2-core machine the wall time cannot go below half of it, however the files are spread.
   */
  readonly testCommandCpuSeconds: number;
  readonly exitCode: number;
  readonly phases: Phase[];
  readonly total: string | undefined;
  /** Failed tests, as `file => name`. */
  readonly failures: string[];
  /**
   * Each `deno test`'s type check (first "Check" line to first test output), in seconds; none
   * when deno's type-check cache was warm (it prints no "Check" lines then).
   */
  readonly checkSeconds: number[];
  /** Times the dev machine's deno wrapper held a `deno test` back for a slot. */
  readonly slotWaits: number;
  readonly files: Record<string, FileTime>;
  /** The coverage floor step after the tests (--ci): how, its seconds and exit code. */
  readonly coverage?: { readonly command: string; readonly seconds: number; readonly code: number };
}

const OUT = new URL("./.out/", import.meta.url).pathname;
const THIS_DIR = new URL("../", import.meta.url).pathname;
/** The phases of a test command from before its closing summary, in the order it ran them. */
const PRE_SUMMARY_PHASES = ["parallel", "serial"];
const UNIT_SECONDS: Readonly<Record<string, number>> = { "µs": 1e-6, ms: 1e-3, s: 1, m: 60 };

/** Seconds of a deno duration: "149µs", "12ms", "4s", "2m31s". */
export function durationSeconds(text: string): number {
  let seconds = 0;
  for (const [, value, unit] of text.matchAll(/(\d+(?:\.\d+)?)(µs|ms|m|s)/g)) {
    seconds += Number(value) * UNIT_SECONDS[unit!]!;
  }
  return seconds;
}

/**
 * The phases of a test command's closing summary ("  unit   482 passed,   0 failed   91s"), or,
 * for a command from before it, one per `deno test` summary line ("ok | 361 passed (380 steps)
 * | 0 failed (58s)"), named by {@linkcode PRE_SUMMARY_PHASES}.
 */
export function parseSummary(output: string): { phases: Phase[]; total: string | undefined } {
  const text = output; // run with NO_COLOR=1: no escapes to strip
  const at = text.lastIndexOf("==> summary\n");
  if (at < 0) {
    const lines = text.matchAll(/^(?:ok|FAILED) \| (\d+) passed.*?\| (\d+) failed.*\(([^)]+)\)$/gm);
    const phases = [...lines].map((m, i) => ({
      name: PRE_SUMMARY_PHASES[i] ?? `deno test ${i + 1}`,
      passed: +m[1]!,
      failed: +m[2]!,
      seconds: Math.round(durationSeconds(m[3]!)),
    }));
    return { phases, total: undefined };
  }
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

/**
 * Each test file's top-level tests, from `deno test` output: with --parallel every result line
 * names its file ("./a_test.ts => name ... ok (4ms)"; a step's is "name ... step ... ok");
 * without it, "running N tests from ./a_test.ts" opens a file's results and steps are indented.
 */
export function parseFileTimes(
  output: string,
): { files: Record<string, FileTime>; failures: string[] } {
  const files: Record<string, { seconds: number; tests: number; failed: number }> = {};
  const failures: string[] = [];
  let current = "";
  for (const line of output.split("\n")) {
    const running = line.match(/^running \d+ tests? from (\S+)$/);
    if (running !== null) {
      current = running[1]!;
      continue;
    }
    const m = line.match(/^(?:(\.\/\S+) => )?(\S.*?) \.\.\. (ok|FAILED|ignored)(?: \(([^)]*)\))?$/);
    if (m === null || m[2]!.includes(" ... ")) continue; // not a result, or a step's
    const file = m[1] ?? current;
    const entry = files[file] ??= { seconds: 0, tests: 0, failed: 0 };
    entry.tests += 1;
    entry.seconds += durationSeconds(m[4] ?? "");
    if (m[3] === "FAILED") {
      entry.failed += 1;
      failures.push(`${file} => ${m[2]}`);
    }
  }
  for (const entry of Object.values(files)) entry.seconds = Math.round(entry.seconds * 10) / 10;
  return { files, failures };
}

/**
 * Where two sides' test files differ in time: the files both ran, by how much slower this side
 * ran each, and the files only one side has.
 */
export function fileDiff(
  base: Readonly<Record<string, FileTime>>,
  self: Readonly<Record<string, FileTime>>,
  top = 15,
): Record<string, unknown> {
  const round = (n: number) => Math.round(n * 10) / 10;
  const sum = (names: string[], of: Readonly<Record<string, FileTime>>) =>
    round(names.reduce((total, name) => total + of[name]!.seconds, 0));
  const common = Object.keys(self).filter((name) => name in base);
  const added = Object.keys(self).filter((name) => !(name in base));
  const removed = Object.keys(base).filter((name) => !(name in self));
  const deltas = common.map((file) => ({
    file,
    baseline: base[file]!.seconds,
    this: self[file]!.seconds,
    delta: round(self[file]!.seconds - base[file]!.seconds),
  })).sort((a, b) => b.delta - a.delta);
  return {
    fileSecondsBaseline: sum(Object.keys(base), base),
    fileSecondsThis: sum(Object.keys(self), self),
    commonFiles: { count: common.length, baseline: sum(common, base), this: sum(common, self) },
    slowerCommon: deltas.slice(0, top),
    fasterCommon: deltas.slice(-5).reverse(),
    addedFiles: {
      count: added.length,
      seconds: sum(added, self),
      slowest: added.map((file) => ({ file, seconds: self[file]!.seconds }))
        .sort((a, b) => b.seconds - a.seconds).slice(0, top),
    },
    removedFiles: { count: removed.length, seconds: sum(removed, base), files: removed },
  };
}

/**
 * Runs deno with `args` in `dir`, its output logged and kept. Also times each `deno test`'s type
 * check: from its first "Check file" line to its first test output, in seconds.
 */
async function timed(
  args: string[],
  dir: string,
  env: Record<string, string>,
  log: Deno.FsFile,
): Promise<
  { seconds: number; cpuSeconds: number; code: number; output: string; checkSeconds: number[] }
> {
  const started = performance.now();
  // GNU time reports the user and system CPU of the command and of every descendant it waited
  // for: the deno test workers, the hopd children, the go and rust clients.
  const cpuFile = await Deno.makeTempFile({ prefix: "hopd-test-cpu-" });
  const child = new Deno.Command("/usr/bin/time", {
    args: ["-f", "%U %S", "-o", cpuFile, Deno.execPath(), ...args],
    cwd: dir,
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const chunks: string[] = [];
  const checkSeconds: number[] = [];
  let checkStarted: number | undefined;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      chunks.push(text);
      await log.write(chunk);
      // Check lines go to stderr, results to stdout: each stream's own chunks are in order.
      if (checkStarted === undefined && /^Check /m.test(text)) checkStarted = performance.now();
      if (checkStarted !== undefined && /^(running \d+ tests? from |\.\/\S+ => )/m.test(text)) {
        checkSeconds.push(Math.round((performance.now() - checkStarted) / 100) / 10);
        checkStarted = undefined;
      }
    }
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  const [user, system] = (await Deno.readTextFile(cpuFile)).trim().split("\n").at(-1)!.split(" ")
    .map(Number);
  await Deno.remove(cpuFile);
  return {
    seconds: Math.round((performance.now() - started) / 100) / 10,
    cpuSeconds: Math.round((user! + system!) * 10) / 10,
    code: status.code,
    output: chunks.join(""),
    checkSeconds,
  };
}

async function gitCommit(dir: string): Promise<string> {
  const git = await new Deno.Command("git", { args: ["-C", dir, "rev-parse", "--short", "HEAD"] })
    .output();
  return new TextDecoder().decode(git.stdout).trim();
}

async function runSide(
  side: Side["side"],
  dir: string,
  options: { readonly ci: boolean; readonly prefix: string },
): Promise<Side> {
  const { ci } = options;
  const log = await Deno.open(`${OUT}${options.prefix}_${side}.log`, {
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
    const { files, failures } = parseFileTimes(test.output);
    return {
      side,
      dir,
      commit: await gitCommit(dir),
      testCommandSeconds: test.seconds,
      testCommandCpuSeconds: test.cpuSeconds,
      exitCode: test.code,
      ...parseSummary(test.output),
      failures,
      checkSeconds: test.checkSeconds,
      slotWaits: test.output.split("waiting for a deno test slot").length - 1,
      files,
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

function argValue(name: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at < 0 ? undefined : Deno.args[at + 1];
}

async function main(): Promise<void> {
  const baseline = argValue("--baseline");
  if (baseline === undefined) {
    throw new TypeError(
      "usage: deno run -A bench/test_command_time.ts --baseline DIR [--this DIR] [--label NAME] " +
        "[--ci]",
    );
  }
  const thisDir = argValue("--this") ?? THIS_DIR;
  const label = argValue("--label");
  const prefix = label === undefined ? "test_command" : `test_command_${label}`;
  const ci = Deno.args.includes("--ci");
  await Deno.mkdir(OUT, { recursive: true });
  const machine = watchMachine();
  const startedAt = new Date().toISOString();
  const sides = [
    await runSide("baseline", baseline, { ci, prefix }),
    await runSide("this", thisDir, { ci, prefix }),
  ];
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
    fileDiff: fileDiff(base.files, self.files),
    loadAverage1m: { min: sorted[0], median: sorted[sorted.length >> 1], max: sorted.at(-1) },
    otherBusyProcesses: others,
  };
  const json = JSON.stringify(result, null, 2);
  const jsonName = label === undefined ? "test_command_time" : `test_command_time_${label}`;
  await Deno.writeTextFile(`${OUT}${jsonName}.json`, json + "\n");
  console.log(json);
}

if (import.meta.main) await main();
