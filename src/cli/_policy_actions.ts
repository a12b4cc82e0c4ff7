/**
 * What `hopd policy check|test|eval|replay` do: the policy author's tools. They use the
 * engine's own load path (sandbox worker, smoke run, fixtures), so what passes here is what a
 * running relay accepts on save. src/cli/policy_command.ts registers the commands and imports
 * this module only when one of them runs: the engine, QuickJS and the config schema are ~190
 * modules every other command would load for nothing.
 *
 * @module
 */

import { SYSTEM_CLOCK } from "../clock/mod.ts";
import { basename, dirname, join, resolve, sep as SEPARATOR } from "node:path";
import { loadConfig, type ResolvedPolicyConfig } from "../config/mod.ts";
import {
  type CaseResult,
  evaluatePolicy,
  exampleSnapshot,
  mergeSnapshot,
  type ModuleKind,
  moduleNameOf,
  parseDecisionLog,
  prepareModule,
  readOptional,
  sandboxLimits,
  SandboxWorker,
  snapshotProblem,
} from "../policy/mod.ts";
import type { CliIo } from "./_io.ts";
import { EXIT_FAILURE, EXIT_OK } from "./exit_codes.ts";

interface Target {
  readonly kind: ModuleKind;
  readonly name: string;
  readonly file: string;
}

// A file or every module of a directory; modules anywhere under a directory named "plugins"
// are plugins unless --kind says otherwise.
async function targetsOf(path: string, kind: string | undefined): Promise<Target[]> {
  const info = await Deno.stat(path);
  const kindOf = (dir: string): ModuleKind =>
    kind === "policy" || kind === "plugin"
      ? kind
      : resolve(dir).split(SEPARATOR).includes("plugins")
      ? "plugin"
      : "policy";
  if (info.isFile) {
    const name = moduleNameOf(path);
    if (name === undefined || basename(path).endsWith("_test.js")) {
      throw new TypeError(`${path} is not a module file (expected <name>.js, not <name>_test.js)`);
    }
    return [{ kind: kindOf(dirname(path)), name, file: path }];
  }
  const targets: Target[] = [];
  for await (const entry of Deno.readDir(path)) {
    const name = entry.isFile ? moduleNameOf(entry.name) : undefined;
    if (name === undefined || entry.name.endsWith("_test.js")) continue;
    targets.push({ kind: kindOf(path), name, file: join(path, entry.name) });
  }
  return targets.sort((a, b) => a.name.localeCompare(b.name));
}

async function policyConfig(configFile: string | undefined): Promise<ResolvedPolicyConfig> {
  return (await loadConfig(configFile === undefined ? {} : { file: configFile })).policy;
}

/** `hopd policy check` and `hopd policy test`: loads each module as the engine does; the exit code. */
export async function checkAll(
  io: CliIo,
  path: string,
  opts: { kind?: string; config?: string; printCases: boolean },
): Promise<number> {
  const { printCases } = opts;
  const config = await policyConfig(opts.config);
  const targets = await targetsOf(path, opts.kind);
  if (targets.length === 0) {
    io.stderr(`error: no modules (*.js) in ${path}\n`);
    return EXIT_FAILURE;
  }
  const worker = new SandboxWorker({ graceMs: config.killGraceMs });
  let failures = 0;
  let passed = 0;
  let failed = 0;
  try {
    for (const target of targets) {
      const source = await Deno.readTextFile(target.file);
      const fixtures = await readOptional(target.file.replace(/\.js$/, "_test.js"));
      const prepared = await prepareModule(worker, {
        ...target,
        fileName: target.file,
        source,
        ...(fixtures === undefined ? {} : { fixturesSource: fixtures }),
        sandbox: target.name,
        limits: sandboxLimits(config),
        clock: io.clock ?? SYSTEM_CLOCK,
      });
      if (printCases) printCaseResults(io, prepared.cases);
      passed += prepared.cases.filter((c) => c.passed).length;
      failed += prepared.cases.filter((c) => !c.passed).length;
      const cases = fixtures === undefined
        ? "no fixtures"
        : `${prepared.cases.length} fixture cases`;
      if (prepared.ok) {
        io.stdout(`ok    ${target.kind} ${target.file} (${cases})\n`);
      } else {
        failures++;
        io.stdout(`FAIL  ${target.kind} ${target.file}: ${prepared.kind}: ${prepared.message}\n`);
      }
    }
  } finally {
    worker.close();
  }
  // One summary of every line above: the modules (a FAIL line is a failed module, whether it
  // failed to compile, its smoke run or a fixture) and, for `test`, the fixture cases.
  const modules = `${targets.length} modules: ${targets.length - failures} ok, ${failures} failed`;
  io.stdout(
    printCases ? `${modules}; fixture cases: ${passed} passed, ${failed} failed\n` : `${modules}\n`,
  );
  return failures === 0 ? EXIT_OK : EXIT_FAILURE;
}

function printCaseResults(io: CliIo, cases: readonly CaseResult[]): void {
  for (const c of cases) {
    io.stdout(c.passed ? `  pass  ${c.name}\n` : `  FAIL  ${c.name}: ${c.problem}\n`);
  }
}

/** Loads the policy `file` into the worker as `name`; says why on stderr when it cannot. */
async function loadInto(
  io: CliIo,
  worker: SandboxWorker,
  { name, file, config }: { name: string; file: string; config: ResolvedPolicyConfig },
): Promise<boolean> {
  const loaded = await worker.load({
    name,
    fileName: file,
    source: await Deno.readTextFile(file),
    limits: sandboxLimits(config),
  });
  if (!loaded.ok) io.stderr(`error: ${file}: ${loaded.kind}: ${loaded.message}\n`);
  return loaded.ok;
}

async function readJsonArgument(text: string, what: string): Promise<unknown> {
  const raw = text.startsWith("@") ? await Deno.readTextFile(text.slice(1)) : text;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new TypeError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** `hopd policy eval`: one evaluation on a snapshot, printed; the exit code. */
export async function evalOnce(
  io: CliIo,
  file: string,
  opts: { snapshot?: string; history?: string; state?: string; explain?: boolean; config?: string },
): Promise<number> {
  const config = await policyConfig(opts.config);
  const nowMs = (io.clock ?? SYSTEM_CLOCK).nowMs();
  const base = exampleSnapshot(nowMs);
  const snapshot = mergeSnapshot(
    base,
    opts.snapshot === undefined ? {} : await readJsonArgument(opts.snapshot, "--snapshot"),
  );
  const history = opts.history === undefined
    ? []
    : await readJsonArgument(opts.history, "--history");
  if (!Array.isArray(history)) throw new TypeError("--history must be a JSON array of snapshots");
  // A misspelled field would otherwise leave the idle node's value in place, judged healthy.
  for (
    const [what, value] of [
      ["--snapshot", snapshot],
      ...history.map((h, i) => [
        `--history[${i}]`,
        mergeSnapshot(base, h),
      ]),
    ] as [string, unknown][]
  ) {
    const problem = snapshotProblem(value);
    if (problem !== undefined) throw new TypeError(`${what}: ${problem}`);
  }
  const state = opts.state === undefined ? {} : await readJsonArgument(opts.state, "--state");
  const worker = new SandboxWorker({ graceMs: config.killGraceMs });
  try {
    const name = moduleNameOf(file) ?? "policy";
    if (!await loadInto(io, worker, { name, file, config })) return EXIT_FAILURE;
    const evaluated = await evaluatePolicy(worker, {
      sandbox: name,
      limits: sandboxLimits(config),
      nowMs,
      snapshotJson: JSON.stringify(snapshot),
      history: history.map((h) => JSON.stringify(mergeSnapshot(base, h))),
      stateJson: JSON.stringify(state),
      seed: 1,
    });
    if (!evaluated.ok) {
      io.stderr(`error: ${file}: ${evaluated.kind}: ${evaluated.message}\n`);
      for (const line of evaluated.logs) io.stderr(`  log: ${line}\n`);
      return EXIT_FAILURE;
    }
    io.stdout(`${JSON.stringify(evaluated.result, null, 2)}\n`);
    if (opts.explain) explain(io, config, evaluated);
    return EXIT_OK;
  } finally {
    worker.close();
  }
}

function explain(
  io: CliIo,
  config: ResolvedPolicyConfig,
  evaluated: Extract<Awaited<ReturnType<typeof evaluatePolicy>>, { ok: true }>,
): void {
  const lines = [
    `evaluated in ${evaluated.durationMs.toFixed(3)} ms (deadline ${config.deadlineMs} ms)`,
    `ctx.state after: ${JSON.stringify(evaluated.state)}`,
    ...evaluated.logs.map((line) => `log: ${line}`),
  ];
  if (evaluated.result.verdict === "unhealthy") {
    lines.push(
      `verdict unhealthy turns /ready 503 (enforce mode) once asked in ` +
        `${config.hysteresisFor} of ${config.hysteresisOf} ticks; until then it counts as degraded`,
    );
  }
  for (const action of evaluated.result.actions) {
    lines.push(
      `action ${JSON.stringify(action)}: runs when asked in ${config.hysteresisFor} of ` +
        `${config.hysteresisOf} ticks, then held back for ${config.cooldownMs} ms (cooldown)` +
        (action.type === "restart"
          ? `; at most ${config.restartBudget} restarts per ${config.restartWindowMs} ms`
          : action.type === "ban"
          ? `; policy bans capped at ${config.maxBanFraction * 100}% of connected peers`
          : action.type === "runHook"
          ? ` (only hooks declared in [policy] hooks run)`
          : ""),
    );
  }
  io.stdout(lines.map((line) => `# ${line}\n`).join(""));
}

/** `hopd policy replay`: a candidate policy shadowed over a decision log; the exit code. */
export async function replay(
  io: CliIo,
  file: string,
  opts: { log: string; config?: string; show?: string },
): Promise<number> {
  const config = await policyConfig(opts.config);
  const { snapshots, decisions, skipped } = parseDecisionLog(await Deno.readTextFile(opts.log));
  if (snapshots.length === 0) {
    io.stderr(`error: ${opts.log} holds no snapshot records\n`);
    return EXIT_FAILURE;
  }
  const name = moduleNameOf(file) ?? "policy";
  const recorded = new Map(
    decisions.filter((d) => d.policy === name).map((d) => [d.tick, d]),
  );
  const worker = new SandboxWorker({ graceMs: config.killGraceMs });
  const verdicts: Record<string, number> = {};
  const actions: Record<string, number> = {};
  let changed = 0;
  let errors = 0;
  let compared = 0;
  const show = Number.parseInt(opts.show ?? "20", 10);
  try {
    if (!await loadInto(io, worker, { name, file, config })) return EXIT_FAILURE;
    const history: string[] = [];
    let state = "{}";
    for (const record of snapshots) {
      const json = JSON.stringify(record.snapshot);
      const evaluated = await evaluatePolicy(worker, {
        sandbox: name,
        limits: sandboxLimits(config),
        nowMs: record.snapshot.now,
        snapshotJson: json,
        history: [...history].reverse(),
        stateJson: state,
        seed: recorded.get(record.tick)?.seed ?? 1,
      });
      history.push(json);
      if (history.length > config.historySize) history.shift();
      if (!evaluated.ok) {
        errors++;
        if (errors <= show) io.stdout(`tick ${record.tick}: error: ${evaluated.message}\n`);
        continue;
      }
      state = JSON.stringify(evaluated.state ?? {});
      const { verdict } = evaluated.result;
      verdicts[verdict] = (verdicts[verdict] ?? 0) + 1;
      for (const a of evaluated.result.actions) actions[a.type] = (actions[a.type] ?? 0) + 1;
      const before = recorded.get(record.tick);
      if (before === undefined) continue;
      compared++;
      const beforeActions = JSON.stringify(before.actions.map((a) => a.type).sort());
      const afterActions = JSON.stringify(evaluated.result.actions.map((a) => a.type).sort());
      if (before.verdict !== verdict || beforeActions !== afterActions) {
        changed++;
        if (changed <= show) {
          io.stdout(
            `tick ${record.tick}: recorded ${before.verdict ?? "error"} ${beforeActions}, ` +
              `candidate ${verdict} ${afterActions}\n`,
          );
        }
      }
    }
  } finally {
    worker.close();
  }
  io.stdout(
    `${
      JSON.stringify({
        policy: name,
        snapshots: snapshots.length,
        skippedLines: skipped,
        verdicts,
        actions,
        errors,
        comparedWithRecorded: compared,
        changed,
      })
    }\n`,
  );
  return errors === 0 ? EXIT_OK : EXIT_FAILURE;
}
