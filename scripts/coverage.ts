/**
 * Line coverage per folder of `src/` (`deno task coverage`), and the floor the critical paths
 * must stay at.
 *
 * `deno task coverage` runs the unit suites beside the code with coverage
 * (`deno test -A --parallel --coverage=DIR src/`) and prints one row per component folder:
 * lines hit, lines found and the percentage, each file of `src/` counted once (test files and
 * test support excluded). It exits 1 when a folder of {@linkcode COVERAGE_FLOORS} is below its
 * floor or holds a file that no test loaded (a file never loaded has no lines in the report, so
 * it would otherwise raise its folder's figure), and 2 when the tests themselves fail.
 *
 * `deno task coverage --report DIR` only reports, from profiles another run wrote to DIR: the
 * test command's parallel phase with `TEST_COVERAGE_DIR=DIR` (scripts/test.sh; .ci/run does so,
 * then reports, so CI runs the unit suites once; its figures add what the end-to-end tests run in
 * their own process, not their hopd children), or end-to-end tests run with
 * `DENO_COVERAGE_DIR=DIR` (their hopd children inherit it and write their profiles there too).
 *
 * @example
 * ```sh
 * deno task coverage                      # unit suites, then the table
 * TEST_COVERAGE_DIR=/tmp/all deno task test && deno task coverage --report /tmp/all
 * DENO_COVERAGE_DIR=/tmp/cov deno test -A tests/relay_e2e_test.ts
 * deno task coverage --report /tmp/cov    # the table from those profiles
 * ```
 *
 * @module
 */

/**
 * Folders the product holds to a line-coverage floor (%): its critical paths (relay, limiter,
 * policy engine), and the CLI and ACME client, whose failures an operator meets first.
 */
export const COVERAGE_FLOORS: Readonly<Record<string, number>> = {
  "src/relay": 80,
  "src/ratelimit": 80,
  "src/policy": 80,
  "src/cli": 80,
  "src/acme": 80,
};

/** Source files that are test support, not product code: never counted. */
const TEST_SUPPORT = /(_test\.ts|\/testing\.ts|\/_test_[a-z_]+\.ts)$/;

/** Line counts of one folder (or file). */
export interface LineCounts {
  readonly found: number;
  readonly hit: number;
}

/** One folder's row of the report. */
export interface FolderCoverage extends LineCounts {
  /** `src/relay`, or `src` for files at the top of `src/`. */
  readonly folder: string;
  /** Files of the folder no test loaded (absent from the profiles). */
  readonly unloaded: readonly string[];
}

/**
 * Line counts per file from an lcov report, keyed by path relative to `root`; files outside
 * `root/src/` and test support are left out.
 *
 * @param lcov The text of `deno coverage --lcov`.
 * @param root The repository root, with a trailing slash.
 * @returns Counts per relative path (`src/relay/circuit.ts`).
 */
export function parseLcov(lcov: string, root: string): Map<string, LineCounts> {
  const files = new Map<string, LineCounts>();
  let file: string | undefined;
  let found = 0;
  let hit = 0;
  for (const line of lcov.split("\n")) {
    if (line.startsWith("SF:")) {
      const path = line.slice(3).replace(/^file:\/\//, "");
      file = path.startsWith(root) ? path.slice(root.length) : undefined;
      found = 0;
      hit = 0;
    } else if (line.startsWith("DA:")) {
      // DA:<line>,<hits>; counted here rather than from LF/LH, which some writers omit.
      found++;
      if (Number(line.slice(line.indexOf(",") + 1)) > 0) hit++;
    } else if (line === "end_of_record" && file !== undefined) {
      if (file.startsWith("src/") && !TEST_SUPPORT.test(file)) {
        const seen = files.get(file);
        // The same file in two records (two profiles merged apart): the better one holds.
        if (seen === undefined || hit > seen.hit) files.set(file, { found, hit });
      }
      file = undefined;
    }
  }
  return files;
}

/** The component folder of a path under `src/`: its first two segments. */
export function folderOf(path: string): string {
  const parts = path.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Sums files into folders, sorted by name, each with the source files it has that no profile
 * covers.
 *
 * @param files Counts per file ({@linkcode parseLcov}).
 * @param sources Every product source file under `src/` (relative paths).
 * @returns One row per folder.
 */
export function byFolder(
  files: ReadonlyMap<string, LineCounts>,
  sources: readonly string[],
): FolderCoverage[] {
  const rows = new Map<string, { found: number; hit: number; unloaded: string[] }>();
  const row = (folder: string) => {
    let r = rows.get(folder);
    if (r === undefined) rows.set(folder, r = { found: 0, hit: 0, unloaded: [] });
    return r;
  };
  for (const [file, counts] of files) {
    const r = row(folderOf(file));
    r.found += counts.found;
    r.hit += counts.hit;
  }
  for (const source of sources) {
    if (!files.has(source) && !TEST_SUPPORT.test(source)) {
      row(folderOf(source)).unloaded.push(source);
    }
  }
  return [...rows].sort(([a], [b]) => a.localeCompare(b)).map(([folder, r]) => ({ folder, ...r }));
}

/**
 * Line coverage in percent, rounded down to one decimal (79.99 is below a floor of 80, never
 * shown as 80.0); 0 for a folder no profile has lines of.
 */
export function percent(counts: LineCounts): number {
  return counts.found === 0 ? 0 : Math.floor((1000 * counts.hit) / counts.found) / 10;
}

/**
 * The folders that break their floor, each with why.
 *
 * @param rows The report ({@linkcode byFolder}).
 * @param floors Floor per folder in percent.
 * @returns One message per broken floor; empty when all hold.
 */
export function floorFailures(
  rows: readonly FolderCoverage[],
  floors: Readonly<Record<string, number>> = COVERAGE_FLOORS,
): string[] {
  const failures: string[] = [];
  for (const [folder, floor] of Object.entries(floors)) {
    const r = rows.find((row) => row.folder === folder);
    if (r === undefined) {
      failures.push(`${folder}: no coverage data`);
      continue;
    }
    if (percent(r) < floor) {
      failures.push(`${folder}: ${percent(r).toFixed(1)}% of lines, below ${floor}%`);
    }
    if (r.unloaded.length > 0) {
      failures.push(`${folder}: no test loads ${r.unloaded.join(", ")}`);
    }
  }
  return failures;
}

/** The table printed: folder, hit, found, percent, floor; then a total row. */
export function formatTable(
  rows: readonly FolderCoverage[],
  floors: Readonly<Record<string, number>> = COVERAGE_FLOORS,
): string {
  const total = rows.reduce((t, r) => ({ found: t.found + r.found, hit: t.hit + r.hit }), {
    found: 0,
    hit: 0,
  });
  const line = (folder: string, c: LineCounts, floor: string, note: string) =>
    `${folder.padEnd(18)} ${String(c.hit).padStart(6)} ${String(c.found).padStart(6)} ` +
    `${percent(c).toFixed(1).padStart(6)}% ${floor.padStart(6)}${note}`;
  return [
    `${"folder".padEnd(18)} ${"hit".padStart(6)} ${"lines".padStart(6)} ${"cover".padStart(7)} ${
      "floor".padStart(6)
    }`,
    ...rows.map((r) => {
      const floor = floors[r.folder];
      const note = r.unloaded.length > 0 ? `  (never loaded: ${r.unloaded.join(", ")})` : "";
      return line(r.folder, r, floor === undefined ? "" : `${floor}%`, note);
    }),
    line("all of src/", total, "", ""),
  ].join("\n");
}

async function sourceFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(`${root}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  }
  await walk("src");
  return files.sort();
}

async function deno(args: string[], root: string): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

/**
 * Runs the unit suites with coverage (unless `--report DIR`), prints the table, and returns
 * the exit code: 0 when every floor holds, 1 when one breaks, 2 when the tests fail.
 */
async function main(args: string[]): Promise<number> {
  const root = new URL("../", import.meta.url).pathname;
  let dir: string;
  let testsFailed = false;
  if (args[0] === "--report" && args[1] !== undefined) {
    dir = args[1];
  } else if (args.length === 0) {
    dir = await Deno.makeTempDir({ prefix: "hopd-coverage-" });
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", "--parallel", `--coverage=${dir}`, "--coverage-raw-data-only", "src/"],
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    testsFailed = run.code !== 0;
  } else {
    console.error("usage: deno task coverage [--report DIR]");
    return 2;
  }
  const lcov = await deno(["coverage", dir, "--lcov", `--include=^file://${root}src/`], root);
  if (args.length === 0) await Deno.remove(dir, { recursive: true });
  if (lcov.code !== 0) {
    console.error(`deno coverage failed (exit ${lcov.code})`);
    return 2;
  }
  const rows = byFolder(parseLcov(lcov.stdout, root), await sourceFiles(root));
  console.log(`\nline coverage per folder of src/ (${args.length === 0 ? "unit suites" : dir}):`);
  console.log(formatTable(rows));
  const failures = floorFailures(rows);
  for (const failure of failures) console.log(`FLOOR BROKEN: ${failure}`);
  if (testsFailed) {
    console.log("the tests failed: the figures above are incomplete");
    return 2;
  }
  return failures.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
