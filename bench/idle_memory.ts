// Where a new, idle hopd's memory goes (issue 16, item 11: idle RSS with the shipped policies,
// goal 100 MB). Starts hopd as `deno task hopd run` does (the production permission set, on
// loopback ports, no peers) in several setups, waits until it is ready and then idle for a
// while, and reads its memory:
//
// - VmRSS, split into anonymous memory (RssAnon) and mapped files (RssFile: the deno binary's
//   pages, shared with every other deno process and dropped first under memory pressure);
// - the main isolate's V8 heap from hopd's own /metrics (total, used, new and old space);
// - /proc/<pid>/smaps by kind: V8 heap pages (256 KiB mappings, every isolate's), the
//   sandboxes' WebAssembly memories (16 MiB committed each), executable code (JIT, wasm),
//   the malloc heap and thread arenas, the rest.
//
// Setups (each a fresh process, interleaved over the runs, medians reported):
//   off        [policy] enabled = false
//   engine     the engine with an empty policy directory (no sandbox worker)
//   one        restart_on_memory.js and its fixtures: the worker and one QuickJS instance
//   shipped    the shipped policies (policies/, five QuickJS instances): the default, with
//              the sandboxes on the main thread (policy.sandbox_thread = "main")
//   worker     the shipped policies in the sandbox worker (policy.sandbox_thread = "worker")
//   plugin     the shipped policies and one plugin (plugins/examples/refuse_peers.js): the
//              plugin worker
// and, with --libraries, the libraries alone: a Deno process that imports one of them (and
// does what hopd does with it at start), after a full GC, against an empty one.
//
// Forms (--forms, default both): "bundle" runs hopd bundled by the checkout's
// scripts/bundle.sh, the program the compiled binary embeds (scripts/compile.sh; the binary
// itself cannot be built here, no denort download), with `deno run -P=hopd --config
// CHECKOUT/deno.json hopd.js`; "source" runs main.ts as `deno task hopd` does. A checkout
// without scripts/bundle.sh has the source form only.
//
//   deno run -A bench/idle_memory.ts [--runs 3] [--idle-seconds 15] [--libraries]
//     [--setups off,shipped] [--forms bundle,source] [--checkout DIR]...
//
// Each hopd runs with DENO_USR2_MEMORY_TRIM=1, as `deno task hopd` and scripts/hopd.service
// launch it (hopd trims its memory once its policies are loaded: src/memory/mod.ts).
//
// --checkout runs the same setups from other checkouts of hopd too (e.g. an export of main,
// `git archive main | tar -x -C DIR` plus its node_modules), side by side in the same run, so
// a change is measured against what it replaces under the same load. Prints one JSON document
// (also written to bench/.out/idle_memory.json).

import { join } from "node:path";
import { numberArg } from "./_args.ts";
import { hopdArgs } from "./relay_vs_stock/_children.ts";
import { freePort } from "./relay_vs_stock/_inspector.ts";

const REPO_ROOT = new URL("../", import.meta.url).pathname;
const GOAL_MB = 100;
const runs = numberArg("--runs", 3);
const idleSeconds = numberArg("--idle-seconds", 15);
const checkouts = [
  REPO_ROOT,
  ...Deno.args.flatMap((a, i) => a === "--checkout" ? [Deno.args[i + 1]!] : []),
];
const ALL_SETUPS = ["off", "engine", "one", "shipped", "worker", "plugin"] as const;
type Setup = typeof ALL_SETUPS[number];
const setupsArg = Deno.args.indexOf("--setups");
const SETUPS = setupsArg < 0
  ? ALL_SETUPS
  : ALL_SETUPS.filter((s) => Deno.args[setupsArg + 1]!.split(",").includes(s));
const ALL_FORMS = ["bundle", "source"] as const;
type Form = typeof ALL_FORMS[number];
const formsArg = Deno.args.indexOf("--forms");
const FORMS = formsArg < 0
  ? ALL_FORMS
  : ALL_FORMS.filter((f) => Deno.args[formsArg + 1]!.split(",").includes(f));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number) => Number(value.toFixed(1));
const MB = 1024 * 1024;

function log(message: string): void {
  console.error(`[idle_memory ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** Policy and plugin directories of a setup, made in `tmp`. */
async function setupEnv(
  setup: Setup,
  checkout: string,
  tmp: string,
): Promise<Record<string, string>> {
  if (setup === "off") return { HOPD_POLICY_ENABLED: "false" };
  const policies = join(tmp, "policies");
  const plugins = join(tmp, "plugins");
  await Deno.mkdir(policies);
  await Deno.mkdir(plugins);
  if (setup === "one") {
    for (const f of ["restart_on_memory.js", "restart_on_memory_test.js"]) {
      await Deno.copyFile(join(checkout, "policies", f), join(policies, f));
    }
  }
  if (setup === "plugin") {
    await Deno.copyFile(
      join(checkout, "plugins/examples/refuse_peers.js"),
      join(plugins, "refuse_peers.js"),
    );
  }
  const shipped = setup === "shipped" || setup === "worker" || setup === "plugin";
  const dir = shipped ? join(checkout, "policies") : policies;
  return {
    HOPD_POLICY_DIR: dir,
    HOPD_POLICY_PLUGINS_DIR: plugins,
    // A checkout without the key ignores the variable (main before it always used the worker).
    ...(setup === "worker" ? { HOPD_POLICY_SANDBOX_THREAD: "worker" } : {}),
  };
}

/** Whether the checkout's config has `policy.sandbox_thread`. */
async function knowsSandboxThread(checkout: string): Promise<boolean> {
  const schema = await Deno.readTextFile(join(checkout, "src/config/schema.ts"));
  return schema.includes("sandbox_thread:");
}

/** Resident memory of `pid` by kind, in MB, from /proc/<pid>/smaps. */
async function smapsKinds(pid: number): Promise<Record<string, number>> {
  const kinds: Record<string, number> = {};
  let kind = "";
  let size = 0;
  for (const line of (await Deno.readTextFile(`/proc/${pid}/smaps`)).split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms, path] = head;
      kind = path === "[heap]"
        ? "mallocHeap"
        : path !== ""
        ? (path!.startsWith("/") ? "files" : "other")
        : perms!.includes("x")
        ? "code"
        : "anon";
      continue;
    }
    if (line.startsWith("Size:")) size = Number(line.split(/\s+/)[1]);
    if (line.startsWith("Rss:") && kind !== "") {
      // V8 maps its heap in 256 KiB pages; a sandbox's wasm memory commits 16 MiB.
      const k = kind !== "anon"
        ? kind
        : size === 256
        ? "v8HeapPages"
        : size === 16 * 1024
        ? "wasmMemories"
        : size >= 1024
        ? "anonLarge"
        : "anonSmall";
      kinds[k] = (kinds[k] ?? 0) + Number(line.split(/\s+/)[1]) / 1024;
    }
  }
  return Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, round(v)]));
}

function metricMb(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return round(Number(line?.split(" ")[1] ?? NaN) / MB);
}

/** The checkout bundled by its scripts/bundle.sh into `dir`: hopd.js, or null without it. */
async function bundle(checkout: string, dir: string): Promise<string | null> {
  const script = join(checkout, "scripts/bundle.sh");
  if (!await Deno.stat(script).then(() => true, () => false)) return null;
  const output = await new Deno.Command("bash", {
    args: [script, "--outdir", dir],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return join(dir, "hopd.js");
}

async function measure(checkout: string, setup: Setup, bundled: string | null) {
  const tmp = await Deno.makeTempDir({ prefix: "hopd-idle-" });
  const port = freePort();
  const http = `127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: bundled === null
      ? hopdArgs(join(tmp, "data"), [], http)
      : hopdArgs(join(tmp, "data"), ["--config", join(checkout, "deno.json")], http, bundled),
    cwd: checkout,
    // As `deno task hopd` and scripts/hopd.service launch it (a checkout that does not send
    // itself the trim signal ignores the variable).
    env: { NO_COLOR: "1", DENO_USR2_MEMORY_TRIM: "1", ...await setupEnv(setup, checkout, tmp) },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const started = performance.now();
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/ready`)
        .then(async (r) => (await r.body?.cancel(), r.status === 200), () => false);
      if (ok) break;
      if (performance.now() - started > 60_000) throw new Error(`${setup}: not ready`);
      await sleep(20);
    }
    await sleep(idleSeconds * 1000);
    const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const space = (s: string) =>
      metricMb(metrics, `nodejs_heap_space_size_total_bytes{space="${s}"}`);
    return {
      rssMb: round(kb("VmRSS") / 1024),
      anonMb: round(kb("RssAnon") / 1024),
      filesMb: round(kb("RssFile") / 1024),
      threads: kb("Threads"),
      mainHeap: {
        totalMb: metricMb(metrics, "nodejs_heap_size_total_bytes"),
        usedMb: metricMb(metrics, "nodejs_heap_size_used_bytes"),
        newSpaceMb: space("new"),
        oldSpaceMb: space("old"),
        externalMb: metricMb(metrics, "nodejs_external_memory_bytes"),
      },
      smapsMb: await smapsKinds(child.pid),
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Per-key medians of runs of the same shape. */
function medians(samples: unknown[]): unknown {
  const first = samples[0];
  if (typeof first === "number") {
    const sorted = (samples as number[]).toSorted((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }
  if (typeof first !== "object" || first === null) return first;
  const keys = new Set(samples.flatMap((s) => Object.keys(s as object)));
  return Object.fromEntries(
    [...keys].map((k) => [k, medians(samples.map((s) => (s as Record<string, unknown>)[k] ?? 0))]),
  );
}

// What hopd does with each library at start, alone in a process (bench/idle_memory/_one.ts).
const LIBRARIES = ["none", "zod", "prom-client", "hono", "libp2p", "quickjs", "hopd"] as const;

async function measureLibrary(library: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      "--v8-flags=--expose-gc",
      new URL("./idle_memory/_one.ts", import.meta.url).pathname,
      library,
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

const loadAtStart = Deno.loadavg();
const startedAt = new Date();
const bundleDir = await Deno.makeTempDir({ prefix: "hopd-idle-bundles-" });
// Each checkout in each of its forms: [checkout, form, bundled hopd.js or null for main.ts].
const programs: [string, Form, string | null][] = [];
for (const [i, checkout] of checkouts.entries()) {
  for (const form of FORMS) {
    const bundled = form === "bundle" ? await bundle(checkout, join(bundleDir, String(i))) : null;
    if (form === "source" || bundled !== null) programs.push([checkout, form, bundled]);
  }
}
const samples = new Map<string, unknown[]>();
try {
  for (let run = 0; run < runs; run++) {
    for (const [checkout, form, bundled] of programs) {
      for (const setup of SETUPS) {
        // A checkout from before policy.sandbox_thread refuses the variable: its only thread is
        // the worker, which its "shipped" setup measures.
        if (setup === "worker" && !await knowsSandboxThread(checkout)) continue;
        const key = `${checkout === REPO_ROOT ? "this" : checkout}:${form}:${setup}`;
        const measured = await measure(checkout, setup, bundled);
        log(`run ${run + 1} ${key}: RSS ${measured.rssMb} MB (anon ${measured.anonMb})`);
        samples.set(key, [...samples.get(key) ?? [], measured]);
      }
    }
  }
} finally {
  await Deno.remove(bundleDir, { recursive: true });
}
const libraries: Record<string, unknown> = {};
if (Deno.args.includes("--libraries")) {
  for (const library of LIBRARIES) {
    libraries[library] = medians(
      await Promise.all(Array.from({ length: 1 }, () => measureLibrary(library))),
    );
    log(`library ${library}: ${JSON.stringify(libraries[library])}`);
  }
}
const result = {
  bench: "idle_memory",
  date: startedAt.toISOString(),
  deno: Deno.version.deno,
  conditions: {
    cpus: navigator.hardwareConcurrency,
    runs,
    idleSeconds,
    loadAverageAtStart: loadAtStart.map(round),
    loadAverageAtEnd: Deno.loadavg().map(round),
    checkouts,
    forms: programs.map(([checkout, form]) => `${checkout}:${form}`),
  },
  goal: `idle RSS with the shipped policies <= ${GOAL_MB} MB`,
  setups: Object.fromEntries([...samples].map(([k, v]) => [k, medians(v)])),
  ...(Deno.args.includes("--libraries") ? { libraries } : {}),
};
const json = JSON.stringify(result, null, 2);
await Deno.mkdir(new URL("./.out/", import.meta.url), { recursive: true });
await Deno.writeTextFile(new URL("./.out/idle_memory.json", import.meta.url), json + "\n");
console.log(json);
