/**
 * The `hopd` command line. {@linkcode run} parses the arguments, runs one command and
 * returns its exit code; `main.ts` passes it to `Deno.exit`. This is the only place that
 * maps outcomes to exit codes (0 ok, 1 runtime failure, 2 usage, 78 config).
 *
 * Each command imports what it runs when it runs: `hopd run` the node (libp2p and ~1,150
 * modules), `hopd policy` the engine, `hopd config` the schema. So `hopd health`, which probe
 * scripts call every few seconds, evaluates the command line alone (bench/RESULTS.md,
 * "CLI commands' cost"); tests/module_graph_test.ts keeps it so.
 *
 * @example
 * ```ts
 * import { run } from "./mod.ts";
 * const code = await run(["version"]); // prints "hopd 0.1.0 …", returns 0
 * ```
 *
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import { ConfigError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { type CliIo, PROCESS_IO } from "./_io.ts";
import { parseOpsUrl, parseTimeoutMs, TIMEOUT_FORMS, URL_FORMS } from "./_options.ts";
import { addAdminCommands } from "./admin_command.ts";
import { EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit_codes.ts";
import { DEFAULT_HEALTH_URL, probeReady } from "./health_command.ts";
import { addPolicyCommands } from "./policy_command.ts";

export type { CliIo } from "./_io.ts";
export * from "./exit_codes.ts";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function versionLine(): string {
  return `hopd ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})`;
}

function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command("hopd")
    .description("hopd: a libp2p circuit relay v2 node for production")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
    })
    .showHelpAfterError("(run with --help for usage)")
    .version(versionLine(), "-V, --version", "print the version");

  program.command("run")
    .description("start the relay node (embedded defaults when no config file is given)")
    .option("-c, --config <file>", "TOML config file (see 'hopd config example')")
    .option("--listen <multiaddr>", "listen multiaddr (repeatable)", collect)
    .option("--announce <multiaddr>", "announced public multiaddr (repeatable)", collect)
    .option("--http <host:port>", "ops HTTP listener, e.g. 127.0.0.1:8080")
    .option("--identity <file>", "identity key file (default <data-dir>/identity.key)")
    .option("--data-dir <dir>", "data directory (default ./hopd-data or $STATE_DIRECTORY)")
    .addOption(new Option("--log-format <format>", "log format").choices(["json", "pretty"]))
    .addOption(
      new Option("--log-level <level>", "lowest log level").choices([
        "trace",
        "debug",
        "info",
        "warning",
        "error",
        "fatal",
      ]),
    )
    .action(async (flags) => {
      const { runNode } = await import("./run_command.ts");
      setCode(await runNode(flags, io));
    });

  program.command("health")
    .description("probe a node's /ready: exit 0 ready, 1 not ready, 2 unreachable")
    .option(
      "--url <url>",
      "the node's ops URL or its /ready URL (HOST:PORT means http://HOST:PORT)",
      DEFAULT_HEALTH_URL,
    )
    .option("--timeout <duration>", 'how long to wait for an answer ("5s", or seconds)', "5s")
    .action(async (flags: { url: string; timeout: string }) => {
      const timeoutMs = parseTimeoutMs(flags.timeout);
      if (timeoutMs === undefined) {
        io.stderr(`error: --timeout must be ${TIMEOUT_FORMS}: got '${flags.timeout}'\n`);
        return setCode(EXIT_USAGE);
      }
      const url = parseOpsUrl(flags.url);
      if (url === undefined) {
        io.stderr(`error: --url must be ${URL_FORMS}: got '${flags.url}'\n`);
        return setCode(EXIT_USAGE);
      }
      const result = await probeReady(url, timeoutMs, io.clock);
      io.stdout(`${result.line}\n`);
      setCode(result.code);
    });

  program.command("keygen")
    .description("write a new Ed25519 identity key (libp2p protobuf, mode 0600); never overwrites")
    .requiredOption("-o, --output <file>", "where to write the key")
    .action(async (flags: { output: string }) => {
      const { createIdentity } = await import("../identity/mod.ts");
      try {
        const identity = await createIdentity(flags.output);
        io.stdout(`${identity.peerId}\n`);
        setCode(EXIT_OK);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        io.stderr(`error: refusing to overwrite existing key '${flags.output}'\n`);
        setCode(EXIT_FAILURE);
      }
    });

  program.command("peer-id")
    .description("print the peer ID of an identity key file")
    .argument("<file>", "identity key file")
    .action(async (file: string) => {
      const { readIdentity } = await import("../identity/mod.ts");
      io.stdout(`${(await readIdentity(file)).peerId}\n`);
      setCode(EXIT_OK);
    });

  const config = program.command("config").description("check or print configuration");
  config.command("check")
    .description("validate a config file (exit 0 valid, 78 invalid)")
    .argument("<file>", "TOML config file")
    .action(async (file: string) => {
      const { loadCheckedConfig } = await import("./_checked_config.ts");
      const { unrunnableHooks } = await import("../policy/mod.ts");
      const loaded = await loadCheckedConfig(
        { file },
        (message) => io.stderr(`warning: ${message}\n`),
      );
      // A hook this very binary may not run would fail at every runHook.
      const unrunnable = loaded.policy.enabled ? unrunnableHooks(loaded.policy.hooks) : [];
      if (unrunnable.length > 0) {
        throw new ConfigError(`Cannot use config '${file}' as ${unrunnable.join("; ")}`);
      }
      io.stdout(`${file}: ok\n`);
      setCode(EXIT_OK);
    });
  config.command("allow-run")
    .description(
      "print the commands of a config's policy.hooks as deno's --allow-run list " +
        "(what scripts/compile.sh --hooks-config grants)",
    )
    .argument("<file>", "TOML config file")
    .action(async (file: string) => {
      const { loadConfig } = await import("../config/mod.ts");
      const { policy } = await loadConfig({ file });
      const commands = new Set(Object.values(policy.hooks).map((argv) => argv[0]!));
      io.stdout(`${[...commands].join(",")}\n`);
      setCode(EXIT_OK);
    });
  config.command("example")
    .description("print a complete commented config with every default")
    .action(async () => {
      const { exampleConfigToml } = await import("../config/mod.ts");
      io.stdout(exampleConfigToml());
      setCode(EXIT_OK);
    });

  addAdminCommands(program, io, setCode);
  addPolicyCommands(program, io, setCode);

  program.command("version")
    .description("print the version")
    .action(() => {
      io.stdout(`${versionLine()}\n`);
      setCode(EXIT_OK);
    });

  return program;
}

/**
 * Runs the hopd CLI.
 *
 * @param args Command-line arguments, without the program name.
 * @param io Where output goes and where the environment comes from.
 * @returns The process exit code.
 */
export async function run(args: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(io, (value) => code = value);
  try {
    if (args.length === 0) {
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    await program.parseAsync([...args], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      io.stderr(`error: ${error.message}\n`);
      return EXIT_CONFIG;
    }
    io.stderr(`error: ${(error as Error).message ?? String(error)}\n`);
    return EXIT_FAILURE;
  }
}
