/**
 * Runs one listener/dialer pair of interop clients through a relay: the listener reserves and
 * announces itself on stderr (`{"event":"ready","peerId":…}`), the dialer dials it through
 * the relay, and both print their result line. Both processes are always ended, also when a
 * step fails or times out. Shared by the matrix and the hole-punch suite.
 *
 * @module
 */

import { type Client, clientArgs, type ClientFlags } from "./clients.ts";
import { type ClientResult, parseClientResult } from "./result.ts";

/** What {@linkcode runPair} needs. */
export interface PairOptions {
  readonly listener: Client;
  readonly dialer: Client;
  /** Relay multiaddr with /p2p/<relay id>, as each side reaches it. */
  readonly relay: string;
  /** The dialer's relay address when it differs (another network namespace). */
  readonly dialerRelay?: string;
  readonly echoBytes: number;
  readonly holepunch?: boolean;
  readonly waitClose?: boolean;
  readonly timeoutS?: number;
  /** Dial side, with `holepunch`: seconds to wait for a direct connection before the echo. */
  readonly holepunchWaitS?: number;
  readonly listenerBind?: readonly string[];
  readonly dialerBind?: readonly string[];
  /** Prefix of the command (e.g. `ip netns exec NS`) for each side. */
  readonly listenerPrefix?: readonly string[];
  readonly dialerPrefix?: readonly string[];
}

/** One side's outcome: its result line, or why there is none, and its stderr tail. */
export interface SideOutcome {
  readonly result?: ClientResult;
  readonly error?: string;
  readonly code: number | null;
  readonly stderr: string;
}

/** The outcome of a pair. */
export interface PairOutcome {
  readonly listener: SideOutcome;
  readonly dialer?: SideOutcome;
}

const READY_TIMEOUT_MS = 30_000;

interface Running {
  readonly child: Deno.ChildProcess;
  readonly stdout: Promise<string>;
  readonly stderrLines: string[];
  readonly stderrDone: Promise<void>;
  readonly ready: Promise<string>;
}

function start(client: Client, flags: ClientFlags, prefix: readonly string[]): Running {
  const [program, ...rest] = [...prefix, ...client.command];
  const child = new Deno.Command(program!, {
    args: [...rest, ...clientArgs(flags)],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderrLines: string[] = [];
  const ready = Promise.withResolvers<string>();
  const stderrDone = (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        stderrLines.push(line);
        if (line.startsWith('{"event":"ready"')) {
          try {
            ready.resolve(String(JSON.parse(line).peerId));
          } catch { /* not the ready line after all */ }
        }
      }
    }
    if (buffer !== "") stderrLines.push(buffer);
    ready.reject(new Error("exited before it was ready"));
  })();
  ready.promise.catch(() => {});
  return { child, stdout, stderrLines, stderrDone, ready: ready.promise };
}

function kill(running: Running, signal: Deno.Signal): void {
  try {
    running.child.kill(signal);
  } catch { /* already exited */ }
}

/** Waits for the process to end (SIGKILL after `graceMs`) and reads its result line. */
async function finish(running: Running, graceMs: number): Promise<SideOutcome> {
  const killer = setTimeout(() => kill(running, "SIGKILL"), graceMs);
  try {
    const status = await running.child.status;
    const stdout = await running.stdout;
    await running.stderrDone;
    const stderr = running.stderrLines.slice(-20).join("\n");
    try {
      return { result: parseClientResult(stdout), code: status.code, stderr };
    } catch (error) {
      return { error: String(error), code: status.code, stderr };
    }
  } finally {
    clearTimeout(killer);
  }
}

function timer(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) =>
    id = setTimeout(() => resolve("timeout"), ms)
  );
  return { promise, cancel: () => clearTimeout(id) };
}

/**
 * Runs the pair: listener reserves, dialer dials through the relay and echoes.
 *
 * @returns Both sides' outcomes (no dialer when the listener never got ready).
 */
export async function runPair(options: PairOptions): Promise<PairOutcome> {
  const timeoutS = options.timeoutS ?? 60;
  const common = { holepunch: options.holepunch, waitClose: options.waitClose, timeoutS };
  const listener = start(options.listener, {
    ...common,
    relay: options.relay,
    mode: { listen: true },
    bind: options.listenerBind,
  }, options.listenerPrefix ?? []);
  const readyWait = timer(READY_TIMEOUT_MS);
  let peerId: string | "timeout";
  try {
    peerId = await Promise.race([listener.ready, readyWait.promise]);
  } catch {
    peerId = "timeout";
  } finally {
    readyWait.cancel();
  }
  if (peerId === "timeout") {
    kill(listener, "SIGTERM");
    return { listener: await finish(listener, 5_000) };
  }
  const dialer = start(options.dialer, {
    ...common,
    relay: options.dialerRelay ?? options.relay,
    mode: { dial: peerId },
    echoBytes: options.echoBytes,
    holepunchWaitS: options.holepunchWaitS,
    bind: options.dialerBind,
  }, options.dialerPrefix ?? []);
  // Each client gives up by itself after timeoutS; the grace covers a client that hangs anyway.
  const dialed = await finish(dialer, (timeoutS + 10) * 1000);
  // The listener ends after serving its echo; one that never got a stream is told to stop.
  const listenerDone = timer(dialed.result?.echo != null ? 5_000 : 500);
  const ended = await Promise.race([listener.child.status, listenerDone.promise]);
  listenerDone.cancel();
  if (ended === "timeout") kill(listener, "SIGTERM");
  return { listener: await finish(listener, 5_000), dialer: dialed };
}
