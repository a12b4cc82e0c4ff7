/**
 * `hopd policy check|test|eval|replay`: the policy author's tools, registered here; what they
 * do is in `_policy_actions.ts`, imported when one of them runs, so `hopd health` or
 * `hopd admin` do not load the policy engine and QuickJS.
 *
 * @module
 */

import type { Command } from "commander";
import type { CliIo } from "./_io.ts";

const actions = () => import("./_policy_actions.ts");

/** Adds `hopd policy …`. */
export function addPolicyCommands(
  program: Command,
  io: CliIo,
  setCode: (code: number) => void,
): void {
  const policy = program.command("policy")
    .description("check, test, evaluate and replay policies and plugins");
  policy.command("check")
    .description("compile, smoke-run and fixture-test a module or a directory (exit 1 on failure)")
    .argument("<path>", "a policy or plugin file, or a directory of them")
    .option("--kind <kind>", "policy or plugin (default: plugin under a plugins/ directory)")
    .option("-c, --config <file>", "config file whose [policy] limits apply")
    .action(async (path: string, opts) =>
      setCode(await (await actions()).checkAll(io, path, { ...opts, printCases: false }))
    );
  policy.command("test")
    .description("run every <name>_test.js fixture and print each case (exit 1 on failure)")
    .argument("[dir]", "directory of policies", "./policies")
    .option("--kind <kind>", "policy or plugin (default: plugin under a plugins/ directory)")
    .option("-c, --config <file>", "config file whose [policy] limits apply")
    .action(async (dir: string, opts) =>
      setCode(await (await actions()).checkAll(io, dir, { ...opts, printCases: true }))
    );
  policy.command("eval")
    .description("evaluate a policy once on a snapshot (merged onto an idle node's) and print it")
    .argument("<file>", "policy file")
    .option("--snapshot <json>", "snapshot JSON, or @file")
    .option("--history <json>", "JSON array of previous snapshots (newest first), or @file")
    .option("--state <json>", "ctx.state JSON, or @file")
    .option("--explain", "also print duration, logs and what the rails would do")
    .option("-c, --config <file>", "config file whose [policy] settings apply")
    .action(async (file: string, opts) =>
      setCode(await (await actions()).evalOnce(io, file, opts))
    );
  policy.command("replay")
    .description("shadow a candidate policy over the snapshots of a decision log")
    .argument("<file>", "candidate policy file")
    .requiredOption("--log <file>", "decision log (<data_dir>/decisions.ndjson)")
    .option("--show <n>", "differences to print", "20")
    .option("-c, --config <file>", "config file whose [policy] settings apply")
    .action(async (file: string, opts) => setCode(await (await actions()).replay(io, file, opts)));
}
