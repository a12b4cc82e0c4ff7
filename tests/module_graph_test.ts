// What an idle node loads (issue 16 item 11, memory at rest): the packages a node needs only
// with a feature enabled are imported dynamically where that feature starts, so the static
// module graph every node evaluates at start (main.ts, then the run command src/cli/mod.ts
// imports when `hopd run` runs) leaves them out. And what the other commands load: main.ts's
// own static graph, the command line alone, so `hopd health` from a probe script does not
// evaluate the node (bench/RESULTS.md, "CLI commands' cost"). The graph comes
// from `deno info --json main.ts`: local modules with their dependencies (type-only and
// dynamic imports marked), and the npm packages with theirs. The bundle the binary embeds
// (scripts/bundle.sh) keeps them out of the files read at start too.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";
import { bundledHopd } from "./_helpers/stand_in_binary.ts";

interface InfoDependency {
  readonly code?: { readonly specifier: string };
  readonly isDynamic?: boolean;
}
interface InfoModule {
  readonly specifier: string;
  readonly kind?: string;
  readonly npmPackage?: string;
  readonly dependencies?: readonly InfoDependency[];
}
interface Info {
  readonly roots: readonly string[];
  readonly modules: readonly InfoModule[];
  readonly redirects: Readonly<Record<string, string>>;
  readonly npmPackages: Readonly<Record<string, { readonly name: string; dependencies: string[] }>>;
}

/**
 * Names of the npm packages `root` loads when it is imported: static imports only,
 * transitively.
 */
async function staticNpmPackages(root: string): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as Info;
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const packages = new Set<string>();
  const seen = new Set<string>();
  const stack = [...info.roots];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    const module = modules.get(info.redirects[specifier] ?? specifier);
    if (module === undefined || seen.has(module.specifier)) continue;
    seen.add(module.specifier);
    if (module.kind === "npm") continue;
    for (const dependency of module.dependencies ?? []) {
      // A type-only import has no `code`; a dynamic one is loaded where it is awaited.
      if (dependency.code !== undefined && !dependency.isDynamic) {
        stack.push(dependency.code.specifier);
      }
    }
  }
  // npm packages are not modules of the graph: close over their own dependencies.
  const pending = [...seen].flatMap((s) => {
    const m = modules.get(s);
    return m?.kind === "npm" && m.npmPackage !== undefined ? [m.npmPackage] : [];
  });
  const visited = new Set<string>();
  while (pending.length > 0) {
    const id = pending.pop()!;
    if (visited.has(id)) continue;
    visited.add(id);
    const pkg = info.npmPackages[id];
    if (pkg === undefined) continue;
    packages.add(pkg.name);
    pending.push(...pkg.dependencies);
  }
  return packages;
}

// `hopd run` is main.ts, then the run command it imports when it runs (src/cli/mod.ts).
async function nodePackages(): Promise<Set<string>> {
  const [cli, node] = await Promise.all(
    ["main.ts", "src/cli/run_command.ts"].map(staticNpmPackages),
  );
  return new Set([...cli!, ...node!]);
}

Deno.test("hopd run loads ACME, gossipsub and QuickJS only when a node needs them", async () => {
  const loaded = await nodePackages();
  // The graph was read: the relay's own libraries are there.
  for (const always of ["libp2p", "@libp2p/tcp", "zod", "hono", "prom-client"]) {
    assert.ok(loaded.has(always), `${always} is not in the static graph: ${[...loaded]}`);
  }
  for (
    const [name, where] of [
      ["acme-client", "[acme] enabled: src/daemon/components.ts"],
      ["@peculiar/x509", "[acme] enabled"],
      ["@libp2p/gossipsub", "[federation] enabled: src/host/mod.ts (createHost given pubsub)"],
      ["quickjs-emscripten-core", "the policy sandbox worker (src/policy/_worker.ts)"],
      ["@jitl/quickjs-singlefile-mjs-release-sync", "the policy sandbox worker"],
    ]
  ) {
    assert.ok(!loaded.has(name!), `${name} is loaded at start; it belongs to ${where}`);
  }
});

Deno.test("hopd's other commands load none of the node: main.ts imports the run command when it runs", async () => {
  const loaded = await staticNpmPackages("main.ts");
  // The graph was read: the command line's parser is there.
  assert.ok(loaded.has("commander"), `commander is not in main.ts's static graph: ${[...loaded]}`);
  for (const node of ["libp2p", "@libp2p/tcp", "zod", "hono", "prom-client", "smol-toml"]) {
    assert.ok(
      !loaded.has(node),
      `${node} is loaded by every command (hopd health, hopd admin…); import it where it runs`,
    );
  }
});

/** The bundle's files that `entry` imports statically, itself included, transitively. */
async function staticFiles(entry: string): Promise<Set<string>> {
  const files = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const text = await Deno.readTextFile(file);
    // Minified static imports: `import{a as b}from"./chunk-X.js"`, `import"./chunk-X.js"`;
    // a dynamic `import("./x.js")` does not match, nor an import in a string that names no
    // file of the bundle (the status page's script).
    for (const m of text.matchAll(/(?:from|import)\s*"(\.\/[^"]+\.js)"/g)) {
      const imported = join(dirname(file), m[1]!);
      if (await Deno.stat(imported).then(() => true, () => false)) stack.push(imported);
    }
  }
  return files;
}

Deno.test("the bundle reads the ACME client and gossipsub from chunks of their own, not at start", async () => {
  const entry = await bundledHopd();
  const dir = dirname(entry);
  const holding = async (marker: string) => {
    const found = [];
    for await (const f of Deno.readDir(dir)) {
      if (f.name.endsWith(".js") && (await Deno.readTextFile(join(dir, f.name))).includes(marker)) {
        found.push(join(dir, f.name));
      }
    }
    return found;
  };
  // A node reads hopd.js, then the run command's chunk (imported when `hopd run` runs).
  const runChunk = [...Deno.readDirSync(dir)].find((f) => f.name.startsWith("run_command-"));
  assert.ok(runChunk !== undefined, "the bundle has no chunk of its own for the run command");
  const atStart = new Set([
    ...await staticFiles(entry),
    ...await staticFiles(join(dir, runChunk.name)),
  ]);
  // The relay's own code is read at start (the walk found the files).
  const hop = await holding("/libp2p/circuit/relay/0.2.0/hop");
  assert.ok(hop.some((f) => atStart.has(f)), `hop protocol not in ${[...atStart]}`);
  for (
    const [marker, what] of [["node-acme-client", "acme-client"], ["/meshsub/1.1.0", "gossipsub"]]
  ) {
    const files = await holding(marker!);
    assert.ok(files.length > 0, `${what} is not in the bundle at all`);
    for (const f of files) assert.ok(!atStart.has(f), `${what} (${f}) is read at start`);
  }
});
