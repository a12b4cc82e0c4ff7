/**
 * `deno task interop`: builds the go and rust clients, runs every interop suite
 * (./suites.ts) against the real hopd program, prints one line per case and a summary line
 * "interop: N passed, N failed", and exits non-zero when any case failed.
 *
 * A machine without Go or Rust: the clients it lacks are named in one line and left out;
 * under CI=true that is a failure. The hole-punch suite runs beside the others (its lane,
 * ./all_suites.ts), so case lines of the two lanes interleave. Options: `--only REGEX` runs
 * the cases whose line name matches, `--jobs N` runs N cases at once in each suite (default:
 * the suite's own, else 2; the NAT-lab suites, whose cases mostly wait, run more),
 * `--clients go,rust,node,deno`, `--suites matrix,limits,stop,bulk,holepunch,autonat`.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { type Client, type ClientName, prepareClients } from "./clients.ts";
import { SUITE_LANES } from "./all_suites.ts";
import type { Case, CaseOutcome, Suite, SuiteContext } from "./suites.ts";

const ALL_CLIENTS: readonly ClientName[] = ["go", "rust", "node", "deno"];
/** Cases run at once in a suite that names no `jobs` of its own. */
const DEFAULT_JOBS = 2;

interface Options {
  only?: string;
  jobs?: number;
  clients: ClientName[];
  suites?: string[];
  attempts?: number;
}

function parseArgs(args: string[]): Options {
  const program = new Command("interop")
    .option("--only <regex>", "run only the cases whose name matches")
    .option(
      "--jobs <n>",
      "cases run at once (default: the suite's own, else 2)",
      (v) => Number.parseInt(v, 10),
    )
    .option(
      "--clients <list>",
      "clients to use",
      (v) => v.split(",") as ClientName[],
      [...ALL_CLIENTS],
    )
    .option("--suites <list>", "suites to run", (v) => v.split(","))
    .option(
      "--attempts <n>",
      "attempts per case of the suites that repeat one (holepunch)",
      (v) => Number.parseInt(v, 10),
    )
    .exitOverride()
    .parse(args, { from: "user" });
  return program.opts<Options>();
}

/** Runs `cases` with at most `jobs` at once, printing each line as it ends (in any order). */
async function runCases(cases: readonly Case[], jobs: number): Promise<CaseOutcome[]> {
  const outcomes: CaseOutcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const item = cases[next++]!;
      const started = performance.now();
      let outcome: CaseOutcome;
      try {
        outcome = await item.run();
      } catch (error) {
        outcome = {
          ok: false,
          line: `interop ${item.name}: FAILED`,
          detail: String(error instanceof Error ? error.stack : error),
        };
      }
      outcomes.push(outcome);
      // The case's wall time, so a slow run can be traced to its cases.
      const took = `[${seconds(started)} s]`;
      console.log(outcome.ok ? `${outcome.line} ${took}` : `${outcome.line} [FAILED] ${took}`);
      if (!outcome.ok && outcome.detail !== undefined) console.log(indent(outcome.detail));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  return outcomes;
}

/** Seconds since `started` (a `performance.now()`), one decimal. */
function seconds(started: number): string {
  return ((performance.now() - started) / 1000).toFixed(1);
}

function indent(text: string): string {
  return text.split("\n").map((line) => `    ${line}`).join("\n");
}

/**
 * Prepares one suite, runs its cases (those `only` matches, `jobs` at once, else the suite's
 * own) and closes it; prints its time.
 *
 * @returns The cases passed and failed; a suite that cannot start counts one failure.
 */
async function runSuite(
  suite: Suite,
  context: SuiteContext,
  options: { readonly only: RegExp | undefined; readonly jobs: number | undefined },
): Promise<{ passed: number; failed: number }> {
  const suiteStarted = performance.now();
  let prepared: Awaited<ReturnType<typeof suite.prepare>>;
  try {
    prepared = await suite.prepare(context);
  } catch (error) {
    console.log(`interop ${suite.name}: cannot start [FAILED]\n${indent(String(error))}`);
    return { passed: 0, failed: 1 };
  }
  try {
    const { only } = options;
    const cases = prepared.cases.filter((c) => only === undefined || only.test(c.name));
    const outcomes = await runCases(cases, options.jobs ?? suite.jobs ?? DEFAULT_JOBS);
    console.log(`interop ${suite.name}: suite took ${seconds(suiteStarted)} s`);
    return {
      passed: outcomes.filter((o) => o.ok).length,
      failed: outcomes.filter((o) => !o.ok).length,
    };
  } finally {
    await prepared.close();
  }
}

/**
 * Runs the interop suites.
 *
 * @param args Command-line arguments.
 * @returns The exit code: 0 when every case passed (and, under CI, every client was there).
 */
export async function main(args: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseArgs(args);
  } catch (error) {
    // commander has printed the help or the usage error already.
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
  const only = options.only === undefined ? undefined : new RegExp(options.only);
  const started = performance.now();
  const { clients, unavailable } = await prepareClients(options.clients);
  let failed = 0;
  let passed = 0;
  const ci = Deno.env.get("CI") === "true";
  for (const missing of unavailable) {
    if (missing.kind === "missing") {
      console.log(
        `interop: ${missing.name} client left out: ${missing.reason}` +
          (ci ? " (CI=true: counted as a failure)" : ""),
      );
      if (ci) failed++;
    } else {
      console.log(
        `interop: ${missing.name} client does not build [FAILED]\n${indent(missing.reason)}`,
      );
      failed++;
    }
  }
  if (clients.length > 0) {
    console.log(
      `interop: clients ${clients.map((c) => `${c.name} (${c.toolchain})`).join(", ")}, ` +
        `built or found in ${seconds(started)} s`,
    );
  }
  const byName = new Map<ClientName, Client>(clients.map((c) => [c.name, c]));
  // The lanes at once (the hole-punch suite mostly waits on timers), each lane's suites in turn.
  const context = {
    clients: byName,
    ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
  };
  await Promise.all(SUITE_LANES.map(async (lane) => {
    for (const suite of lane) {
      if (options.suites !== undefined && !options.suites.includes(suite.name)) continue;
      const counts = await runSuite(suite, context, { only, jobs: options.jobs });
      passed += counts.passed;
      failed += counts.failed;
    }
  }));
  console.log(`interop: ${passed} passed, ${failed} failed (${seconds(started)} s)`);
  return failed === 0 && passed > 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
