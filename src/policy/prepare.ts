/**
 * Turning a file into a live module: compile it in a fresh sandbox, check its exports, run a
 * smoke evaluation and its own fixture cases (<name>_test.js), and only then call it good.
 * The engine's hot reload and `hopd policy check|test` share this path, so what passes the
 * CLI is what the running relay would accept.
 *
 * @module
 */

import { z } from "zod";
import type { Clock } from "../clock/mod.ts";
import type { ResolvedPolicyConfig } from "../config/mod.ts";
import { CALL_OUTPUT_ROOM_CHARS, CASES_OUTPUT_MAX_CHARS } from "./constants.ts";
import { exampleSnapshot, mergeSnapshot } from "./example_snapshot.ts";
import type { SandboxErrorKind, SandboxFailure, SandboxLimits } from "./sandbox.ts";
import type { SandboxRunner } from "./sandbox_host.ts";
import {
  ADMISSION_SCHEMA,
  describeIssue,
  type PolicyResult,
  RESULT_SCHEMA,
  snapshotProblem,
  VERDICTS,
} from "./types.ts";

/**
 * The sandbox limits of `[policy]`: its memory and stack, a deadline (`policy.deadline`
 * unless given: plugins have `plugin_budget`), and an answer of at most `state_max_size` and
 * room for the largest valid result and logs.
 */
export function sandboxLimits(
  config: ResolvedPolicyConfig,
  deadlineMs: number = config.deadlineMs,
): SandboxLimits {
  return {
    memoryLimitBytes: config.memoryLimitBytes,
    stackLimitBytes: config.stackLimitBytes,
    deadlineMs,
    outputMaxChars: config.stateMaxBytes + CALL_OUTPUT_ROOM_CHARS,
  };
}

/** A policy (evaluate) or a plugin (event hooks). */
export type ModuleKind = "policy" | "plugin";

/** Hooks a plugin may export. */
export const PLUGIN_HOOKS = ["onReservation", "onCircuit", "score"] as const;
/** One plugin hook name. */
export type PluginHook = typeof PLUGIN_HOOKS[number];

/** One fixture case's outcome. */
export interface CaseResult {
  /** The case's name. */
  readonly name: string;
  /** True when the module's answer matched the case's expectation. */
  readonly passed: boolean;
  /** What differed, when it failed. */
  readonly problem?: string;
}

/** What preparing a module gave. */
export type Prepared =
  | {
    readonly ok: true;
    /** The sandbox it lives in (inside the worker). */
    readonly sandbox: string;
    readonly exports: readonly string[];
    readonly cases: readonly CaseResult[];
    readonly loadMs: number;
  }
  | {
    readonly ok: false;
    readonly kind: SandboxErrorKind;
    readonly message: string;
    readonly cases: readonly CaseResult[];
  };

const OBJECT = z.record(z.string(), z.unknown());
const CASE_SCHEMA = z.strictObject({
  name: z.string().min(1),
  snapshot: OBJECT.default({}),
  history: z.array(OBJECT).default([]),
  state: z.unknown().optional(),
  hook: z.enum(PLUGIN_HOOKS).optional(),
  input: z.array(z.unknown()).optional(),
  expect: z.strictObject({
    verdict: z.enum(VERDICTS).optional(),
    reasons: z.array(z.string()).optional(),
    actions: z.array(OBJECT).optional(),
    accept: z.boolean().optional(),
    result: z.unknown().optional(),
  }),
});
const CASES_SCHEMA = z.array(CASE_SCHEMA).max(500);
type Case = z.output<typeof CASE_SCHEMA>;

/** Appended to a fixture file so the host can read its `cases` export as data. */
const CASES_ACCESSOR = "\nexport function __hopdCases() { return cases; }\n";

/** What {@linkcode prepareModule} needs. */
export interface PrepareInput {
  /** A policy (evaluate) or a plugin (hooks). */
  readonly kind: ModuleKind;
  /** The module's name: its file name without `.js`. */
  readonly name: string;
  /** Shown in stack traces and errors. */
  readonly fileName: string;
  /** The module's JavaScript source. */
  readonly source: string;
  /** The text of <name>_test.js, if it exists. */
  readonly fixturesSource?: string;
  /** Sandbox name to load into (a fresh one per revision). */
  readonly sandbox: string;
  /** Memory, stack and deadline of the sandbox. */
  readonly limits: SandboxLimits;
  /** The fixtures' `ctx.now` and the load time. */
  readonly clock: Clock;
}

/** One preparation: its input and the one time reading its fixtures run at. */
type Preparation = PrepareInput & { readonly nowMs: number };

/**
 * Compiles, checks and tests a module. On success it stays loaded in `input.sandbox`; on
 * failure nothing is left loaded.
 */
export async function prepareModule(
  worker: SandboxRunner,
  prepareInput: PrepareInput,
): Promise<Prepared> {
  const started = prepareInput.clock.monotonicMs();
  const nowMs = prepareInput.clock.nowMs();
  const input: Preparation = { ...prepareInput, nowMs };
  const loaded = await worker.load({
    name: input.sandbox,
    fileName: input.fileName,
    source: input.source,
    limits: input.limits,
  });
  if (!loaded.ok) return { ok: false, kind: loaded.kind, message: loaded.message, cases: [] };
  const fail = async (kind: SandboxErrorKind, message: string, cases: CaseResult[] = []) => {
    await worker.unload(input.sandbox);
    return { ok: false as const, kind, message, cases };
  };
  if (input.kind === "policy" && !loaded.exports.includes("evaluate")) {
    return fail("compile", "a policy must export a function named evaluate(snapshot, ctx)");
  }
  if (input.kind === "plugin" && !PLUGIN_HOOKS.some((hook) => loaded.exports.includes(hook))) {
    return fail("compile", `a plugin must export at least one of ${PLUGIN_HOOKS.join(", ")}`);
  }
  if (input.kind === "policy") {
    // A smoke run on an idle node's snapshot: a policy that throws or returns garbage on
    // ordinary input is not worth swapping in.
    const idle = JSON.stringify(exampleSnapshot(nowMs));
    const smoke = await evaluatePolicy(worker, {
      ...input,
      snapshotJson: idle,
      history: [],
      stateJson: "{}",
      seed: 1,
    });
    if (!smoke.ok) return fail(smoke.kind, `on an idle node's snapshot: ${smoke.message}`);
  }
  let cases: CaseResult[] = [];
  if (input.fixturesSource !== undefined) {
    const read = await readCases(worker, input);
    if (!read.ok) return fail("fixture", read.message);
    cases = [];
    for (const testCase of read.cases) cases.push(await runCase(worker, input, testCase));
    const failed = cases.filter((c) => !c.passed);
    if (failed.length > 0) {
      return fail(
        "fixture",
        `${failed.length} of ${cases.length} fixture cases failed: ` +
          failed.map((c) => `"${c.name}": ${c.problem}`).join("; "),
        cases,
      );
    }
  }
  return {
    ok: true,
    sandbox: input.sandbox,
    exports: loaded.exports,
    cases,
    loadMs: input.clock.monotonicMs() - started,
  };
}

/** The validated result of one policy evaluation, or why there is none. */
export type Evaluated =
  | {
    readonly ok: true;
    readonly result: PolicyResult;
    readonly state: unknown;
    readonly logs: readonly string[];
    readonly durationMs: number;
  }
  | SandboxFailure & { readonly logs: readonly string[] };

/** One evaluation of a policy: where it runs and what it is given. */
export interface EvaluateInput {
  /** The loaded sandbox's name. */
  readonly sandbox: string;
  /** Memory, stack and deadline of the sandbox. */
  readonly limits: SandboxLimits;
  /** The host time the policy's `Date` reads. */
  readonly nowMs: number;
  /** The snapshot as JSON. */
  readonly snapshotJson: string;
  /** ctx.state as JSON. */
  readonly stateJson: string;
  /** Snapshots as JSON, newest first, for ctx.history(); absent = the worker's ring. */
  readonly history?: readonly string[];
  /** Seed of the policy's `Math.random` (recorded in the decision log to replay it). */
  readonly seed: number;
}

/**
 * Runs `evaluate(snapshot, ctx)` in a loaded sandbox and validates what it returned.
 *
 * @param worker The sandbox worker.
 * @param input The sandbox, the snapshot, the state, the history and the seed.
 * @returns The validated result, or why there is none.
 */
export async function evaluatePolicy(
  worker: SandboxRunner,
  input: EvaluateInput,
): Promise<Evaluated> {
  const outcome = await worker.call({
    name: input.sandbox,
    fn: "evaluate",
    argsJson: `[${input.snapshotJson}]`,
    stateJson: input.stateJson,
    nowMs: input.nowMs,
    seed: input.seed,
    ...(input.history === undefined ? {} : { history: input.history }),
  }, input.limits.deadlineMs);
  if (!outcome.ok) return { ...outcome, logs: [] };
  const parsed = RESULT_SCHEMA.safeParse(outcome.result);
  if (!parsed.success) {
    return {
      ok: false,
      kind: "invalid_result",
      message: `evaluate() returned an invalid result: ${describeIssue(parsed.error)}`,
      logs: outcome.logs,
      durationMs: outcome.durationMs,
    };
  }
  return {
    ok: true,
    result: parsed.data,
    state: outcome.state,
    logs: outcome.logs,
    durationMs: outcome.durationMs,
  };
}

async function readCases(
  worker: SandboxRunner,
  input: Preparation,
): Promise<{ ok: true; cases: Case[] } | { ok: false; message: string }> {
  const sandbox = `${input.sandbox}#cases`;
  const fileName = input.fileName.replace(/\.js$/, "_test.js");
  const loaded = await worker.load({
    name: sandbox,
    fileName,
    source: input.fixturesSource! + CASES_ACCESSOR,
    // Fixtures are the operator's data, not a policy's answer: a larger bound.
    limits: { ...input.limits, outputMaxChars: CASES_OUTPUT_MAX_CHARS },
  });
  if (!loaded.ok) return { ok: false, message: `${fileName}: ${loaded.message}` };
  const called = await worker.call({
    name: sandbox,
    fn: "__hopdCases",
    argsJson: "[]",
    stateJson: "{}",
    nowMs: input.nowMs,
    seed: 1,
  }, input.limits.deadlineMs);
  await worker.unload(sandbox);
  if (!called.ok) {
    return { ok: false, message: `${fileName} must export const cases = [...]: ${called.message}` };
  }
  const parsed = CASES_SCHEMA.safeParse(called.result);
  if (!parsed.success) {
    return { ok: false, message: `${fileName}: cases.${describeIssue(parsed.error)}` };
  }
  return { ok: true, cases: parsed.data };
}

async function runCase(worker: SandboxRunner, input: Preparation, c: Case): Promise<CaseResult> {
  const problem = input.kind === "policy"
    ? await policyCaseProblem(worker, input, c)
    : await pluginCaseProblem(worker, input, c);
  return problem === undefined ? { name: c.name, passed: true } : {
    name: c.name,
    passed: false,
    problem,
  };
}

async function policyCaseProblem(
  worker: SandboxRunner,
  input: Preparation,
  c: Case,
): Promise<string | undefined> {
  const base = exampleSnapshot(input.nowMs);
  const snapshot = mergeSnapshot(base, c.snapshot);
  const history = c.history.map((h) => mergeSnapshot(base, h));
  // A misspelled field would test the idle node's value instead of the case's.
  const problem = [snapshot, ...history].map(snapshotProblem).find((p) => p !== undefined);
  if (problem !== undefined) return `snapshot: ${problem}`;
  const evaluated = await evaluatePolicy(worker, {
    ...input,
    snapshotJson: JSON.stringify(snapshot),
    history: history.map((h) => JSON.stringify(h)),
    stateJson: JSON.stringify(c.state ?? {}),
    seed: 1,
  });
  if (!evaluated.ok) return evaluated.message;
  const { result } = evaluated;
  const { expect } = c;
  if (expect.verdict !== undefined && result.verdict !== expect.verdict) {
    return `verdict is ${result.verdict}, expected ${expect.verdict}`;
  }
  for (const reason of expect.reasons ?? []) {
    if (!result.reasons.some((r) => r.includes(reason))) {
      return `no reason contains "${reason}" (reasons: ${JSON.stringify(result.reasons)})`;
    }
  }
  if (expect.actions !== undefined) {
    const got = result.actions.map(canonical).sort();
    const want = expect.actions.map(canonical).sort();
    if (got.join("\n") !== want.join("\n")) {
      return `actions are ${JSON.stringify(result.actions)}, expected ${
        JSON.stringify(expect.actions)
      }`;
    }
  }
  return undefined;
}

async function pluginCaseProblem(
  worker: SandboxRunner,
  input: Preparation,
  c: Case,
): Promise<string | undefined> {
  if (c.hook === undefined) return "a plugin case needs hook and input";
  const outcome = await worker.call({
    name: input.sandbox,
    fn: c.hook,
    argsJson: JSON.stringify(c.input ?? []),
    stateJson: JSON.stringify(c.state ?? {}),
    nowMs: input.nowMs,
    seed: 1,
  }, input.limits.deadlineMs);
  if (!outcome.ok) return outcome.message;
  if (c.hook !== "score") {
    const parsed = ADMISSION_SCHEMA.safeParse(outcome.result);
    if (!parsed.success) return `invalid answer: ${describeIssue(parsed.error)}`;
    if (c.expect.accept !== undefined && parsed.data.accept !== c.expect.accept) {
      return `accept is ${parsed.data.accept}, expected ${c.expect.accept}`;
    }
  }
  if (
    c.expect.result !== undefined && canonical(outcome.result) !== canonical(c.expect.result)
  ) {
    return `returned ${JSON.stringify(outcome.result)}, expected ${
      JSON.stringify(c.expect.result)
    }`;
  }
  return undefined;
}

/** JSON with sorted keys, so key order never makes two equal values differ. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
        : v,
  );
}
