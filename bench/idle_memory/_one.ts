// One library of hopd alone in a process, for bench/idle_memory.ts --libraries: imports it,
// does what hopd does with it at start, forces two full GCs and prints the process's memory
// as JSON (compare with "none", an empty process).
//
//   deno run -A --v8-flags=--expose-gc bench/idle_memory/_one.ts <library>

const library = Deno.args[0];
// Kept alive until the figures are read, as hopd keeps them.
const kept: unknown[] = [];
switch (library) {
  case "none":
    break;
  case "zod": {
    // zod and hopd's config schema, parsed once.
    const { defaultConfig } = await import("../../src/config/mod.ts");
    kept.push(defaultConfig());
    break;
  }
  case "prom-client": {
    const { createRegistry } = await import("../../src/metrics/mod.ts");
    const registry = createRegistry({ version: "bench" });
    kept.push(registry, await registry.metrics());
    break;
  }
  case "hono":
    // hono, @hono/zod-openapi and every ops route module.
    kept.push(await import("../../src/ops/mod.ts"));
    break;
  case "libp2p": {
    // A started js-libp2p node: TCP, Noise, yamux on loopback.
    const { loopbackNode } = await import("../../src/host/testing.ts");
    kept.push(await loopbackNode());
    break;
  }
  case "quickjs": {
    // One QuickJS sandbox on this thread (hopd runs them in a worker).
    const { Sandbox } = await import("../../src/policy/sandbox.ts");
    const source = await Deno.readTextFile(
      new URL("../../policies/restart_on_memory.js", import.meta.url),
    );
    kept.push(
      await Sandbox.create("restart_on_memory.js", source, {
        memoryLimitBytes: 32 * 1024 * 1024,
        stackLimitBytes: 512 * 1024,
        deadlineMs: 1_000,
        outputMaxChars: 1 << 20,
      }),
    );
    break;
  }
  case "hopd":
    // hopd's whole module graph loaded, nothing started.
    kept.push(await import("../../src/daemon/mod.ts"));
    break;
  default:
    throw new TypeError(`unknown library '${library}'`);
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
gc();
await new Promise((resolve) => setTimeout(resolve, 1_000));
gc();
const status = await Deno.readTextFile("/proc/self/status");
const mb = (key: string) =>
  Number((Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1]) / 1024).toFixed(1));
const heap = Deno.memoryUsage();
console.log(JSON.stringify({
  rssMb: mb("VmRSS"),
  anonMb: mb("RssAnon"),
  filesMb: mb("RssFile"),
  heapTotalMb: Number((heap.heapTotal / 1024 / 1024).toFixed(1)),
  heapUsedMb: Number((heap.heapUsed / 1024 / 1024).toFixed(1)),
  kept: kept.length,
}));
Deno.exit(0);
