// What bench/relay_vs_peers.ts runs besides hopd and the stock js relay: go-libp2p's relay v2
// service (go/, built here), and stock sink/source client pairs in four kinds: Deno and Node
// (js_client.mjs, js-libp2p), go (go/, go-libp2p) and rust (rust/, rust-libp2p). Builds go to
// caches under the home directory, outside the clone, as tests/interop's do.

import { join } from "node:path";
import { type LineChild, lineChild, type RelayProcess } from "../relay_vs_stock/_children.ts";

/** A client implementation the bench moves bytes with. */
export type ClientKind = "deno" | "node" | "go" | "rust";
export const CLIENT_KINDS: readonly ClientKind[] = ["deno", "node", "go", "rust"];

const HERE = new URL("./", import.meta.url).pathname;
const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const HOME = Deno.env.get("HOME") ?? "/root";
/** Where the go binary goes (the same variable as tests/interop's, for the same reason). */
const CACHE_DIR = Deno.env.get("INTEROP_CACHE_DIR") ?? join(HOME, ".cache", "hopd", "interop");
/** Shared with tests/interop/rust, whose compiled dependencies the rust client reuses. */
const CARGO_TARGET_DIR = Deno.env.get("INTEROP_CARGO_TARGET_DIR") ??
  join(HOME, ".cache", "hopd", "cargo-target");

/** The built programs: the go binary (relay and clients) and the rust client. */
export interface Programs {
  readonly go: string;
  readonly rust: string | undefined;
  /** Toolchain versions, for the report. */
  readonly versions: Record<string, string>;
}

async function run(program: string, args: string[], cwd: string, env: Record<string, string>) {
  const output = await new Deno.Command(program, { args, cwd, env, stdin: "null" }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  if (output.code !== 0) throw new Error(`${program} ${args.join(" ")} failed:\n${text}`);
  return text.trim();
}

/**
 * Builds the go program (go.sum is committed: `-mod=readonly`) and, when `rust` is asked
 * for, the rust client (Cargo.lock is committed: `--locked`).
 */
export async function buildPrograms(rust: boolean): Promise<Programs> {
  const go = join(CACHE_DIR, "bench", "peers-go");
  await run("go", ["build", "-mod=readonly", "-o", go, "."], join(HERE, "go"), {});
  const versions: Record<string, string> = {
    go: await run("go", ["env", "GOVERSION"], HERE, {}),
    node: await run("node", ["--version"], HERE, {}),
    deno: Deno.version.deno,
  };
  if (!rust) return { go, rust: undefined, versions };
  await run("cargo", ["build", "--release", "--locked", "--quiet"], join(HERE, "rust"), {
    CARGO_TARGET_DIR,
  });
  versions.rustc = await run("rustc", ["--version"], HERE, {});
  return { go, rust: join(CARGO_TARGET_DIR, "release", "peers-rust"), versions };
}

/** The command line of a `kind` client in `mode` ("sink" or "source"). */
function clientArgv(programs: Programs, kind: ClientKind): string[] {
  switch (kind) {
    case "deno":
      return [Deno.execPath(), "run", "-A", "--quiet", join(HERE, "js_client.mjs")];
    case "node":
      return ["node", join(HERE, "js_client.mjs")];
    case "go":
      return [programs.go];
    case "rust":
      if (programs.rust === undefined) throw new Error("the rust client was not built");
      return [programs.rust];
  }
}

function spawn(argv: string[], label: string): LineChild {
  return lineChild(
    new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }),
    label,
    "stdout",
  );
}

/** A sink and a source of one kind, connected through one relay by one circuit. */
export interface ClientPair {
  readonly kind: ClientKind;
  readonly sink: LineChild;
  readonly source: LineChild;
  /** Streams `bytes` through the circuit; resolves with the source's wall time. */
  round(bytes: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

/** Starts a sink (it reserves) and a source (it dials the sink through the relay). */
export async function startPair(
  programs: Programs,
  kind: ClientKind,
  relayAddr: string,
): Promise<ClientPair> {
  const argv = clientArgv(programs, kind);
  const sink = spawn([...argv, "sink", relayAddr], `${kind} sink`);
  let source: LineChild | undefined;
  try {
    const ready = await sink.next((m) => m.ready === true, 120_000);
    source = spawn([...argv, "source", relayAddr, String(ready.peerId)], `${kind} source`);
    await source.next((m) => m.ready === true, 120_000);
  } catch (error) {
    await Promise.all([sink.stop(), source?.stop()]);
    throw error;
  }
  const src = source;
  return {
    kind,
    sink,
    source: src,
    async round(bytes, timeoutMs) {
      await src.send({ go: bytes });
      const done = await src.next((m) => m.done === true, timeoutMs);
      if (typeof done.error === "string") throw new Error(`${kind} source: ${done.error}`);
      return Number(done.elapsedMs);
    },
    async stop() {
      await Promise.all([src.stop(), sink.stop()]);
    },
  };
}

/** go-libp2p's relay, with the commands of go/relay.go. */
export interface GoRelay extends RelayProcess {
  /** Bytes the relay copied, both directions (its metrics tracer's count). */
  relayedBytes(): Promise<number>;
  /** Forgets the setup times recorded so far. */
  resetSetup(): Promise<void>;
  /** Setup times (first CONNECT byte read → first STATUS byte written) since the last reset. */
  setupMs(): Promise<number[]>;
}

/**
 * Starts go-libp2p's relay v2 service (go/relay.go) and waits for its listen address.
 *
 * @param bufferBytes The copy buffer per circuit direction; go-libp2p's default when absent.
 */
export async function startGoRelay(programs: Programs, bufferBytes?: number): Promise<GoRelay> {
  const args = ["relay", ...(bufferBytes === undefined ? [] : ["-buffer", String(bufferBytes)])];
  const child = spawn([programs.go, ...args], "go relay");
  const ready = await child.next((m) => m.ready === true, 30_000);
  const addr = (ready.addrs as string[]).find((a) => a.includes("/tcp/") && !a.includes("/ws"));
  const ask = async (command: Record<string, unknown>, key: string) => {
    await child.send(command);
    return await child.next((m) => key in m, 30_000);
  };
  return {
    name: "go",
    pid: child.pid,
    tcpAddr: `${addr}/p2p/${ready.peerId}`,
    metricsUrl: undefined,
    heapUsedBytes: () => Promise.resolve(NaN),
    async relayedBytes() {
      return Number((await ask({ stats: true }, "relayedBytes")).relayedBytes);
    },
    async resetSetup() {
      await ask({ setup: "reset" }, "setupReset");
    },
    async setupMs() {
      return (await ask({ setup: "report" }, "setupMs")).setupMs as number[];
    },
    stop: () => child.stop(),
  };
}

/**
 * Pins every thread of process `pid` to `cpus` (taskset's list syntax, e.g. "0"); threads it
 * starts later inherit the mask.
 */
export async function pin(pid: number, cpus: string): Promise<void> {
  await run("taskset", ["-a", "-p", "-c", cpus, String(pid)], HERE, {});
}
