// A relay child's memory, read from /proc and its V8 inspector, and the share of it per held
// item (reservation, circuit) above a baseline.

import { inspect } from "./_inspector.ts";

/** A child's memory in KiB: RSS and its V8 heap and external memory. */
export interface Memory {
  rssKib: number;
  heapTotalKib: number;
  heapUsedKib: number;
  externalKib: number;
}

/** VmRSS of `pid` in KiB. */
export async function rssKib(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? NaN);
}

/** The memory of `pid`, whose inspector listens on `port`. */
export async function memory(pid: number, port: number): Promise<Memory> {
  const result = await inspect(port, "Runtime.evaluate", {
    expression: "JSON.stringify(Deno.memoryUsage())",
    returnByValue: true,
  }) as { result: { value: string } };
  const usage = JSON.parse(result.result.value);
  return {
    rssKib: await rssKib(pid),
    heapTotalKib: usage.heapTotal / 1024,
    heapUsedKib: usage.heapUsed / 1024,
    externalKib: usage.external / 1024,
  };
}

/** KiB per item of each figure above `base`; `rest` is RSS less the V8 heap and external. */
export function perItem(now: Memory, base: Memory, n: number) {
  const per = (key: keyof Memory) => Number(((now[key] - base[key]) / n).toFixed(1));
  return {
    rss: per("rssKib"),
    heapTotal: per("heapTotalKib"),
    heapUsed: per("heapUsedKib"),
    external: per("externalKib"),
    rest: Number((per("rssKib") - per("heapTotalKib") - per("externalKib")).toFixed(1)),
  };
}

/** What {@linkcode holdAndMeasure} needs. */
export interface HoldMeasure {
  readonly pid: number;
  /** The child's inspector port. */
  readonly port: number;
  /** Memory before the items were added. */
  readonly base: Memory;
  /** Items held. */
  readonly n: number;
  /** What an item is, for the progress lines ("reservation", "circuit"). */
  readonly item: string;
  readonly holdMs: number;
  readonly sampleMs: number;
}

/**
 * Samples RSS per item every `sampleMs` for `holdMs`, then splits the memory per item before
 * and after a forced full GC (inspector `HeapProfiler.collectGarbage`).
 */
export async function holdAndMeasure(m: HoldMeasure) {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const samples: number[] = [];
  for (let t = 0; t <= m.holdMs; t += m.sampleMs) {
    const per = ((await rssKib(m.pid)) - m.base.rssKib) / m.n;
    samples.push(Number(per.toFixed(1)));
    console.log(`${m.n} held, t+${t / 1000} s: RSS ${per.toFixed(1)} KiB per ${m.item}`);
    if (t < m.holdMs) await sleep(m.sampleMs);
  }
  const beforeGc = perItem(await memory(m.pid, m.port), m.base, m.n);
  await inspect(m.port, "HeapProfiler.collectGarbage");
  await sleep(1_000);
  const afterGc = perItem(await memory(m.pid, m.port), m.base, m.n);
  console.log(
    `${m.n} held: before GC ${JSON.stringify(beforeGc)}, after ${JSON.stringify(afterGc)}`,
  );
  const median = [...samples].sort((a, b) => a - b)[samples.length >> 1]!;
  return { samples, median, beforeGc, afterGc };
}
