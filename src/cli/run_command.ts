import { getLogger } from "@logtape/logtape";
import type { RawConfig, ResolvedConfig } from "../config/mod.ts";
import { type Daemon, startDaemon } from "../daemon/mod.ts";
import { ConfigError } from "../errors.ts";
import { configureLogging } from "../log/mod.ts";
import { systemdNotifier } from "../systemd/mod.ts";
import { loadCheckedConfig } from "./_checked_config.ts";
import type { CliIo } from "./_io.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_POLICY_RESTART } from "./exit_codes.ts";

/** Flags of `hopd run`, as commander gives them. */
export interface RunFlags {
  config?: string;
  listen?: string[];
  announce?: string[];
  http?: string;
  identity?: string;
  dataDir?: string;
  logFormat?: string;
  logLevel?: string;
}

/** Signals that ask for a graceful stop. */
const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGTERM", "SIGINT"];

/** Which config key each `hopd run` flag sets, and the flag's spelling. */
const FLAG_KEYS: Readonly<
  Record<keyof Omit<RunFlags, "config">, readonly [string, string, string]>
> = {
  listen: ["node", "listen", "--listen"],
  announce: ["node", "announce", "--announce"],
  identity: ["node", "identity_file", "--identity"],
  dataDir: ["node", "data_dir", "--data-dir"],
  http: ["http", "listen", "--http"],
  logFormat: ["log", "format", "--log-format"],
  logLevel: ["log", "level", "--log-level"],
};

/**
 * Maps `hopd run` flags onto config keys (the highest-precedence source).
 *
 * @param flags The parsed flags.
 * @returns Raw config overrides.
 */
export function flagsToOverrides(flags: RunFlags): RawConfig {
  const overrides: RawConfig = {};
  for (const [flag, [section, key]] of Object.entries(FLAG_KEYS)) {
    const value = flags[flag as keyof typeof FLAG_KEYS];
    if (value !== undefined) (overrides[section] ??= {})[key] = value;
  }
  return overrides;
}

function flagLabel(section: string, key: string): string {
  const entry = Object.values(FLAG_KEYS).find(([s, k]) => s === section && k === key);
  return `${entry?.[2] ?? "command-line"} flag`;
}

function addSignal(signal: Deno.Signal, handler: () => void): () => void {
  try {
    Deno.addSignalListener(signal, handler);
    return () => Deno.removeSignalListener(signal, handler);
  } catch {
    // Not every platform has every signal (Windows has no SIGTERM or SIGHUP).
    return () => {};
  }
}

/**
 * `hopd run`: loads the config, starts the node and serves until SIGTERM or SIGINT. The
 * first signal drains and stops gracefully (exit 0); a second one forces exit 1.
 *
 * @param flags The command's flags.
 * @param io Output and environment.
 * @returns The exit code.
 * @throws {import("../errors.ts").ConfigError} On a bad config or identity.
 */
export async function runNode(flags: RunFlags, io: CliIo): Promise<number> {
  // Warnings of the first load wait for logging, which that load configures.
  const early: string[] = [];
  let warn = (message: string): void => void early.push(message);
  const load = () =>
    loadCheckedConfig({
      file: flags.config,
      env: io.env(),
      overrides: flagsToOverrides(flags),
      overrideLabel: flagLabel,
    }, (message) => warn(message));
  const config: ResolvedConfig = await load();
  configureLogging({ level: config.log.level, format: config.log.format });
  const log = getLogger(["hopd", "cli"]);
  warn = (message) => log.warn("Config: {message}", { message });
  for (const message of early) warn(message);

  let daemon: Daemon;
  try {
    daemon = await startDaemon(config, { loadConfig: load });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // A listener that could not open (ListenError) says which, under which key, and why, in
    // one line; libp2p's own listen error carried stacks and advice about its internals.
    log.fatal("Cannot start: {message}", { message: (error as Error).message });
    return EXIT_FAILURE;
  }

  const notifier = systemdNotifier(io.env());
  await notifier.ready(`serving as ${daemon.peerId}`);
  const { promise: exitCode, resolve } = Promise.withResolvers<number>();
  let signals = 0;
  const onStop = () => {
    signals++;
    if (signals === 1) {
      void notifier.stopping("draining open circuits, then exiting");
      daemon.shutdown().then(() => resolve(EXIT_OK), (error) => {
        log.error("Shutdown failed: {message}", { message: (error as Error).message });
        resolve(EXIT_FAILURE);
      });
    } else {
      log.warn("Second stop signal: exiting now without draining");
      resolve(EXIT_FAILURE);
    }
  };
  void daemon.restartRequested.then((reason) => {
    if (signals > 0) return;
    signals++;
    void notifier.stopping(`restarting at a policy's request: ${reason}`);
    daemon.shutdown().then(() => resolve(EXIT_POLICY_RESTART), (error) => {
      log.error("Shutdown failed: {message}", { message: (error as Error).message });
      resolve(EXIT_FAILURE);
    });
  });
  const removers = STOP_SIGNALS.map((signal) => addSignal(signal, onStop));
  removers.push(addSignal("SIGHUP", () => {
    log.info("SIGHUP received: reloading");
    void daemon.reload();
  }));
  try {
    return await exitCode;
  } finally {
    for (const remove of removers) remove();
    notifier.close();
  }
}
