/**
 * `deno task doc:lint`, a step of .ci/run: the documentation checks.
 *
 * 1. `deno doc --lint` over every component's `mod.ts` (src/*\/mod.ts): every exported symbol
 *    has JSDoc, every exported function an explicit return type, and no public type names a
 *    private one. One kind of problem is allowed, by name: a reference to a type of a
 *    library hopd is built on ({@linkcode DEPENDENCY_TYPES}). deno doc counts those as
 *    private too, and making them public means re-exporting the library's types, which
 *    drags in theirs (measured per package at {@linkcode DEPENDENCY_TYPES}). A name on the
 *    list that no longer appears fails the check, so the list only shrinks.
 * 2. Every source file under src/ (tests aside) opens with an `@module` doc.
 *
 * Prints each problem, then one line "doc lint: N problems …"; exits 1 when N > 0.
 *
 * @module
 */

import { join, relative } from "node:path";

/**
 * The dependency types public signatures may name, and the package each comes from.
 *
 * Where a public signature only reads a little of a library type, it names a narrow hopd type
 * instead (src/ip's `MultiaddrLike`: the components of an address; a peer ID's text, as the
 * limiter, bans and plugins key peers; the node's key as its libp2p protobuf bytes, the identity
 * file's contents, which the host and the relay each decode once; src/ops' `OpsApp`: requests in,
 * responses out; src/metrics' `MetricsRegistry`, on which components declare their metrics and get
 * hopd's `Counter`, `Gauge` and `Histogram`, the members hopd calls, as js-libp2p's services get
 * its `Metrics` interface, prom-client imported by src/metrics alone), or the library type stays
 * inside the component (the AutoNAT server's stream handler is not re-exported; the ops route
 * groups, which register on hono's `OpenAPIHono`, are built inside src/ops from their components
 * in `OpsComponents`; the host builds the gossipsub service itself from hopd's gossip settings,
 * src/host's `PubSubInit` (the federation's values are in src/federation/pub_sub_settings.ts), and
 * hands the federation hopd's `PubSub`: subscribe with a validator of the signer's peer ID text
 * and the message bytes answering "accept" | "ignore" | "reject", unsubscribe, publish;
 * gossipsub's types stay in src/host/gossipsub_pub_sub.ts). That took `Multiaddr`, `Connection`,
 * `Stream` and `PeerId` off this list (35 references of 11 names → 24 of 7, 2026-12-05), then
 * `PrivateKey` (→ 20 of 6), `OpenAPIHono` (→ 19 of 5), `GossipsubOpts` (→ 18 of 4), `Registry` (→
 * 8 of 3; its 10 references were 8 components' `registry` fields, `createRegistry` and
 * `registerSocketMetrics`) and `GossipSub`, `GossipSubComponents` (→ 4 of 1, 2026-12-06; their 4
 * were `HostInit.pubsub`, `Host.pubsub` and `FederationComponents.pubsub`).
 *
 * The one left stays because a narrow type would have to restate the library's own, and
 * re-exporting it from the `mod.ts` that names it makes deno doc lint the library's
 * declarations, which name more of the library's types. Measured per package with
 * `deno doc --lint src/*\/mod.ts` on 2026-12-05 (35 problems before, all on this list):
 * - `Libp2p` (4: `Host.libp2p`, and the node the relay, the federation and AutoNAT run on):
 *   they register stream handlers, dial, list connections and listen to peer events. Spelled
 *   out, those members name `StreamHandler` (its `Stream` and `Connection`), `PeerId`,
 *   `Multiaddr`, `DialTarget`, `DialOptions`, `AbortOptions`, `PeerStore` and the node's event
 *   map: the names this list lost, and more. Naming none of them would take hopd's own stream
 *   and connection types, which the relay's data path (`circuit.ts`: `send`, drain and message
 *   events, `Uint8ArrayList`) and `src/host/pipelined_stream.ts` (`connection.muxer`) would have
 *   to run on: @libp2p/interface's stream API, restated. Re-exported from src/host/mod.ts (with
 *   `Connection`, `Stream`), 77 problems, 45 names (AbortOptions, PeerStore, MessageStream,
 *   StreamHandler, TypedEventTarget…). Handing the components the hopd `Host` instead would
 *   move the name, not remove it (`Host.libp2p`).
 */
export const DEPENDENCY_TYPES: Readonly<Record<string, string>> = {
  Libp2p: "@libp2p/interface",
};

/** One problem `deno doc --lint` reported. */
export interface DocProblem {
  /** The lint rule, e.g. "missing-jsdoc" or "private-type-ref". */
  readonly rule: string;
  /** The type a private-type-ref names. */
  readonly privateType?: string;
  /** The whole report of the problem, as deno printed it. */
  readonly text: string;
}

/**
 * Splits `deno doc --lint` output (without colours) into its problems.
 *
 * @example
 * ```ts
 * import { parseDocLint } from "./doc_lint.ts";
 * const problems = parseDocLint(
 *   "error[private-type-ref]: public type 'f' references private type 'PeerId'\n  --> a.ts:1:1\n\n" +
 *     "error[missing-jsdoc]: exported symbol is missing JSDoc documentation\n  --> a.ts:2:1\n",
 * );
 * problems.map((p) => p.privateType ?? p.rule); // ["PeerId", "missing-jsdoc"]
 * ```
 *
 * @param output What deno printed.
 * @returns The problems, in order.
 */
export function parseDocLint(output: string): DocProblem[] {
  return output.split(/\n(?=error\[)/).flatMap((block) => {
    const rule = block.match(/^error\[([\w-]+)\]/)?.[1];
    if (rule === undefined) return [];
    const privateType = block.match(/references private type '([^']+)'/)?.[1];
    return [{ rule, text: block.trim(), ...(privateType === undefined ? {} : { privateType }) }];
  });
}

/**
 * The problems that fail the check, and the allowed names that no longer occur.
 *
 * @param problems What deno reported.
 * @param allowed Dependency type names a public type may reference.
 * @returns The failing problems, the count of allowed references, and unused names.
 */
export function judge(
  problems: readonly DocProblem[],
  allowed: Readonly<Record<string, string>> = DEPENDENCY_TYPES,
): { failing: DocProblem[]; allowedCount: number; unused: string[] } {
  const seen = new Set<string>();
  const failing = problems.filter((problem) => {
    const name = problem.privateType;
    if (problem.rule !== "private-type-ref" || name === undefined || !(name in allowed)) {
      return true;
    }
    seen.add(name);
    return false;
  });
  const unused = Object.keys(allowed).filter((name) => !seen.has(name));
  return { failing, allowedCount: problems.length - failing.length, unused };
}

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (/\.ts$/.test(entry.name) && !/_test\.ts$/.test(entry.name)) files.push(path);
  }
  return files.sort();
}

async function main(): Promise<number> {
  const root = new URL("../", import.meta.url).pathname;
  const src = join(root, "src");
  const files = await sourceFiles(src);
  const mods = files.filter((file) => relative(src, file).match(/^[^/]+\/mod\.ts$/));
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", ...mods],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  const problems = parseDocLint(text);
  if (problems.length === 0 && !output.success) {
    console.error(text);
    console.log("doc lint: deno doc --lint failed without reporting a problem");
    return 1;
  }
  const { failing, allowedCount, unused } = judge(problems);
  for (const problem of failing) console.error(`${problem.text}\n`);
  for (const name of unused) {
    console.error(`DEPENDENCY_TYPES lists ${name}, which no public type references now: remove it`);
  }
  const noModule: string[] = [];
  for (const file of files) {
    if (!(await Deno.readTextFile(file)).includes("@module")) noModule.push(relative(root, file));
  }
  for (const file of noModule) console.error(`${file}: no @module doc`);
  const count = failing.length + unused.length + noModule.length;
  console.log(
    `doc lint: ${count} problems in ${mods.length} mod.ts and ${files.length} source files ` +
      `(${allowedCount} references to dependency types allowed)`,
  );
  return count === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exitCode = await main();
