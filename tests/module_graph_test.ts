// What an idle node loads (issue 16 item 11, memory at rest): the packages a node needs only
// with a feature enabled are imported dynamically where that feature starts, so main.ts's
// static module graph, which every node evaluates at start, leaves them out. The graph comes
// from `deno info --json main.ts`: local modules with their dependencies (type-only and
// dynamic imports marked), and the npm packages with theirs.
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

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

/** Names of the npm packages main.ts loads at start: static imports only, transitively. */
async function staticNpmPackages(): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
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

Deno.test("main.ts loads ACME, gossipsub and QuickJS only when a node needs them", async () => {
  const loaded = await staticNpmPackages();
  // The graph was read: the relay's own libraries are there.
  for (const always of ["libp2p", "@libp2p/tcp", "zod", "hono", "prom-client"]) {
    assert.ok(loaded.has(always), `${always} is not in the static graph: ${[...loaded]}`);
  }
  for (
    const [name, where] of [
      ["acme-client", "[acme] enabled: src/daemon/components.ts"],
      ["@peculiar/x509", "[acme] enabled"],
      ["@libp2p/gossipsub", "[federation] enabled: src/daemon/components.ts"],
      ["quickjs-emscripten-core", "the policy sandbox worker (src/policy/_worker.ts)"],
      ["@jitl/quickjs-singlefile-mjs-release-sync", "the policy sandbox worker"],
    ]
  ) {
    assert.ok(!loaded.has(name!), `${name} is loaded at start; it belongs to ${where}`);
  }
});
