/**
 * The interop clients and how to build and start them: go (go-libp2p, tests/interop/go), rust
 * (rust-libp2p, tests/interop/rust), node and deno (js-libp2p, tests/interop/js_client.mjs).
 * Every client takes the same flags and prints one "hopd-interop/1" result line
 * (./result.ts). Builds go to caches under the home directory, outside the clone, so a second
 * run rebuilds only what changed: Go's own build and module caches, and a cargo target
 * directory under ~/.cache/hopd/.
 *
 * @module
 */

import { join } from "node:path";

/** The name of a client kind. */
export type ClientName = "go" | "rust" | "node" | "deno";

/** Transports a client can reach the relay over. */
export type Transport = "tcp" | "ws";

/** Flags every client takes (docs/INTEROP.md). */
export interface ClientFlags {
  readonly relay: string;
  readonly mode: { listen: true } | { dial: string };
  readonly echoBytes?: number;
  readonly holepunch?: boolean;
  readonly waitClose?: boolean;
  readonly timeoutS?: number;
  /** Dial side, with `holepunch`: seconds to wait for a direct connection before the echo. */
  readonly holepunchWaitS?: number;
  /** Listen multiaddrs of the client itself (for hole punching). */
  readonly bind?: readonly string[];
}

/** A built client that can be started. */
export interface Client {
  readonly name: ClientName;
  /** The program and the arguments before the shared flags. */
  readonly command: readonly string[];
  readonly transports: readonly Transport[];
  /** The toolchain that builds or runs it, e.g. "go1.26.8". */
  readonly toolchain: string;
}

/** Why a client cannot be used on this machine: its toolchain is missing, or its build failed. */
export interface Unavailable {
  readonly name: ClientName;
  readonly kind: "missing" | "broken";
  readonly reason: string;
}

const INTEROP_DIR = new URL(".", import.meta.url).pathname;
const HOME = Deno.env.get("HOME") ?? "/root";
/**
 * Where built interop binaries live. `INTEROP_CACHE_DIR` (with `INTEROP_CARGO_TARGET_DIR`)
 * gives a checkout its own, so two checkouts on one machine do not run each other's builds.
 * (Not HOPD_*: hopd reads every HOPD_* variable as config and refuses an unknown one.)
 */
export const CACHE_DIR = Deno.env.get("INTEROP_CACHE_DIR") ??
  join(HOME, ".cache", "hopd", "interop");
/** The cargo target directory shared by every build of the rust client. */
export const CARGO_TARGET_DIR = Deno.env.get("INTEROP_CARGO_TARGET_DIR") ??
  join(HOME, ".cache", "hopd", "cargo-target");

/** Builds the argument list for `flags`. */
export function clientArgs(flags: ClientFlags): string[] {
  const args = ["--relay", flags.relay];
  if ("listen" in flags.mode) args.push("--listen");
  else args.push("--dial", flags.mode.dial);
  if (flags.echoBytes !== undefined) args.push("--echo", String(flags.echoBytes));
  if (flags.holepunch) args.push("--holepunch");
  if (flags.holepunchWaitS !== undefined) args.push("--holepunch-wait", `${flags.holepunchWaitS}s`);
  if (flags.waitClose) args.push("--wait-close");
  if (flags.timeoutS !== undefined) args.push("--timeout", `${flags.timeoutS}s`);
  if (flags.bind !== undefined && flags.bind.length > 0) args.push("--bind", flags.bind.join(","));
  return args;
}

async function which(program: string): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

/** The first line a tool prints for its version, or "unknown". */
async function toolVersion(program: string, args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command(program, { args, stdin: "null", stderr: "null" })
      .output();
    return new TextDecoder().decode(output.stdout).split("\n")[0]!.trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** Runs a build command, its output kept for the error. */
async function build(
  what: string,
  program: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<void> {
  const output = await new Deno.Command(program, {
    args,
    cwd: options.cwd,
    env: options.env ?? {},
    stdin: "null",
  }).output();
  if (output.code !== 0) {
    const decoder = new TextDecoder();
    throw new Error(
      `${what} failed (exit ${output.code}):\n${decoder.decode(output.stdout)}${
        decoder.decode(output.stderr)
      }`,
    );
  }
}

/** Builds the go client (go.sum is committed: `-mod=readonly` refuses to change it). */
async function buildGo(): Promise<Client | Unavailable> {
  if (!await which("go")) return { name: "go", kind: "missing", reason: "go is not installed" };
  const binary = join(CACHE_DIR, "go", "interop-go");
  await build("go build", "go", ["build", "-mod=readonly", "-o", binary, "."], {
    cwd: join(INTEROP_DIR, "go"),
  });
  const toolchain = await toolVersion("go", ["env", "GOVERSION"]);
  return { name: "go", command: [binary], transports: ["tcp", "ws"], toolchain };
}

/** Builds the rust client (Cargo.lock is committed: `--locked` refuses to change it). */
async function buildRust(): Promise<Client | Unavailable> {
  if (!await which("cargo")) {
    return { name: "rust", kind: "missing", reason: "cargo is not installed" };
  }
  await build("cargo build", "cargo", ["build", "--release", "--locked", "--quiet"], {
    cwd: join(INTEROP_DIR, "rust"),
    env: { CARGO_TARGET_DIR },
  });
  return {
    name: "rust",
    command: [join(CARGO_TARGET_DIR, "release", "interop-rust")],
    transports: ["tcp", "ws"],
    toolchain: await toolVersion("rustc", ["--version"]),
  };
}

async function node(): Promise<Client | Unavailable> {
  if (!await which("node")) {
    return { name: "node", kind: "missing", reason: "node is not installed" };
  }
  return {
    name: "node",
    command: ["node", join(INTEROP_DIR, "js_client.mjs")],
    transports: ["tcp", "ws"],
    toolchain: `node ${await toolVersion("node", ["--version"])}`,
  };
}

function deno(): Client {
  return {
    name: "deno",
    command: [Deno.execPath(), "run", "-A", "--quiet", join(INTEROP_DIR, "js_client.mjs")],
    transports: ["tcp", "ws"],
    toolchain: `deno ${Deno.version.deno}`,
  };
}

/**
 * Builds (or finds) every client; the go and rust builds run one after the other so they do
 * not fight over the machine's cores with each other.
 *
 * @param names The clients wanted.
 * @returns The usable clients and the ones that are not, with why.
 */
export async function prepareClients(
  names: readonly ClientName[],
): Promise<{ clients: Client[]; unavailable: Unavailable[] }> {
  const clients: Client[] = [];
  const unavailable: Unavailable[] = [];
  for (const name of names) {
    let prepared: Client | Unavailable;
    try {
      prepared = name === "go"
        ? await buildGo()
        : name === "rust"
        ? await buildRust()
        : name === "node"
        ? await node()
        : deno();
    } catch (error) {
      prepared = {
        name,
        kind: "broken",
        reason: error instanceof Error ? error.message : String(error),
      };
    }
    if ("reason" in prepared) unavailable.push(prepared);
    else clients.push(prepared);
  }
  return { clients, unavailable };
}
