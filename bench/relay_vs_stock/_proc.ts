// What the bench reads from outside a process: CPU time and RSS from /proc, the file
// descriptor limit, and Prometheus text from hopd's /metrics (histogram quantiles by bucket
// interpolation, as Prometheus' histogram_quantile does).

let clockTicks: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), the unit of utime/stime in /proc/<pid>/stat. */
export async function clockTicksPerSecond(): Promise<number> {
  if (clockTicks !== undefined) return clockTicks;
  const output = await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output();
  clockTicks = Number(new TextDecoder().decode(output.stdout).trim());
  if (!(clockTicks > 0)) throw new Error("getconf CLK_TCK gave no number");
  return clockTicks;
}

/** User + system CPU seconds of process `pid`, all its threads included. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the ")" that closes the command name start at field 3 (state); utime and
  // stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / await clockTicksPerSecond();
}

/** Resident set size of process `pid` in KiB (VmRSS). */
export async function rssKib(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
}

/** Soft and hard RLIMIT_NOFILE of this process. */
export async function openFileLimits(): Promise<{ soft: number; hard: number }> {
  const limits = await Deno.readTextFile("/proc/self/limits");
  const match = /Max open files\s+(\d+)\s+(\d+)/.exec(limits);
  return { soft: Number(match?.[1]), hard: Number(match?.[2]) };
}

/** Fetches Prometheus text from `url`. */
export async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  return await response.text();
}

/** Value of an unlabelled (or exactly labelled) sample, 0 when absent. */
export function sampleValue(text: string, name: string, labels = ""): number {
  const prefix = labels === "" ? `${name} ` : `${name}{${labels}} `;
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(prefix.length));
}

/** Cumulative bucket counts of histogram `name`, by upper bound (Infinity for +Inf). */
export function histogramBuckets(text: string, name: string): Map<number, number> {
  const buckets = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{(?:.*,)?le="([^"]+)"(?:,.*)?\\} (\\S+)$`, "gm");
  for (const match of text.matchAll(re)) {
    const le = match[1] === "+Inf" ? Infinity : Number(match[1]);
    buckets.set(le, Number(match[2]));
  }
  return buckets;
}

/**
 * Quantile `q` of the observations between two scrapes of one histogram, interpolating
 * linearly inside the bucket the rank falls in (lower bound 0 for the first bucket; the
 * highest finite bound when the rank falls in +Inf).
 *
 * @returns The quantile in the histogram's unit and the number of observations.
 */
export function histogramQuantile(
  before: Map<number, number>,
  after: Map<number, number>,
  q: number,
): { value: number; count: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cumulative = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const count = cumulative.at(-1) ?? 0;
  if (count === 0) return { value: NaN, count };
  const rank = q * count;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (upper === Infinity) return { value: lower, count };
    const below = i === 0 ? 0 : cumulative[i - 1]!;
    const inBucket = cumulative[i]! - below;
    return { value: lower + (upper - lower) * ((rank - below) / inBucket), count };
  }
  return { value: bounds.at(-2) ?? NaN, count };
}

/** The p-th percentile (0-100) of `values` by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** Median of `values`. */
export function median(values: number[]): number {
  return percentile(values, 50);
}

/**
 * n, median, p99, max and min of `values`, rounded to `digits` decimals; null when empty.
 */
export function summarize(values: number[], digits = 1) {
  if (values.length === 0) return null;
  const scale = 10 ** digits;
  const r = (x: number) => Math.round(x * scale) / scale;
  return {
    n: values.length,
    median: r(percentile(values, 50)),
    p99: r(percentile(values, 99)),
    max: r(Math.max(...values)),
    min: r(Math.min(...values)),
  };
}
