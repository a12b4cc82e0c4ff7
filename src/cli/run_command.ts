/**
 * `hopd run`: loads the config (file, environment, flags), sets up logging, builds and starts
 * the daemon, tells systemd it is ready, and stops it on SIGTERM/SIGINT or a policy restart.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { RawConfig, ResolvedConfig } from "../config/mod.ts";
import { type Daemon, startDaemon } from "../daemon/mod.ts";
import { ConfigError } from "../errors.ts";
import { configureLogging } from "../log/mod.ts";
import { systemdNotifier } from "../systemd/mod.ts";
import { loadCheckedConfig, type PendingModesWarning } from "./_checked_config.ts";
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
  // At start the engine itself reports policy.modes names that match no policy in a
  // directory it reads; only a directory that does not exist yet is told here. Warnings of
  // the first load wait for logging, which that load configures.
  const early: string[] = [];
  let warn: PendingModesWarning = (message, dirFound) => {
    if (!dirFound) early.push(message);
  };
  const load = () =>
    loadCheckedConfig({
      file: flags.config,
      env: io.env(),
      overrides: flagsToOverrides(flags),
      overrideLabel: flagLabel,
    }, (message, dirFound) => warn(message, dirFound));
  const config: ResolvedConfig = await load();
  configureLogging({ level: config.log.level, format: config.log.format });
  const log = getLogger(["hopd", "cli"]);
  for (const message of early) log.warn("Config: {message}", { message });
  // A reload reports every such name: the engine keeps the [policy] it started with.
  warn = (message) => log.warn("Config: {message}", { message });

  // SIGHUP is taken from the start: one that comes while the node starts (its default action
  // would end the process) is applied once it runs.
  let daemon: Daemon | undefined;
  let reloadWhenStarted = false;
  const removeHup = addSignal("SIGHUP", () => {
    log.info("SIGHUP received: reloading");
    if (daemon === undefined) reloadWhenStarted = true;
    else void daemon.reload();
  });
  try {
    daemon = await startDaemon(config, { loadConfig: load });
  } catch (error) {
    removeHup();
    if (error instanceof ConfigError) throw error;
    // A listener that could not open (ListenError) says which, under which key, and why, in
    // one line; libp2p's own listen error carried stacks and advice about its internals.
    log.fatal("Cannot start: {message}", { message: (error as Error).message });
    return EXIT_FAILURE;
  }
  if (reloadWhenStarted) void daemon.reload();
  try {
    return await serveUntilStopped(daemon, io);
  } finally {
    removeHup();
  }
}

/**
 * Serves until SIGTERM/SIGINT (drain, stop, exit 0; a second signal exits 1 at once) or a
 * policy's restart request (drain, stop, exit 75). The handlers are in place before systemd
 * is told READY=1.
 */
async function serveUntilStopped(daemon: Daemon, io: CliIo): Promise<number> {
  const log = getLogger(["hopd", "cli"]);
  const notifier = systemdNotifier(io.env(), io.clock);
  const { promise: exitCode, resolve } = Promise.withResolvers<number>();
  let signals = 0;
  const stop = (reason: string, code: number) => {
    void notifier.stopping(reason);
    daemon.shutdown().then(() => resolve(code), (error) => {
      log.error("Shutdown failed: {message}", { message: (error as Error).message });
      resolve(EXIT_FAILURE);
    });
  };
  const onStop = () => {
    if (++signals === 1) return stop("draining open circuits, then exiting", EXIT_OK);
    log.warn("Second stop signal: exiting now without draining");
    resolve(EXIT_FAILURE);
  };
  void daemon.restartRequested.then((reason) => {
    if (signals++ > 0) return;
    stop(`restarting at a policy's request: ${reason}`, EXIT_POLICY_RESTART);
  });
  const removers = STOP_SIGNALS.map((signal) => addSignal(signal, onStop));
  try {
    await notifier.ready(`serving as ${daemon.peerId}`);
    return await exitCode;
  } finally {
    for (const remove of removers) remove();
    notifier.close();
  }
}
