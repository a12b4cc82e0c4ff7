// The latest of each measured figure lives in one table, bench/RESULTS.md "Latest figures";
// README.md and docs/ link to it instead of copying numbers (copies went stale and disagreed:
// issue 16 item 8). These tests check that every row of that table says when, where and how it
// was measured (a date, a machine, a command, and a link to a section of bench/RESULTS.md that
// exists), and that no distinctive number of its "latest" column (one with a decimal point or a
// thousands separator, or three digits or more with a unit that is not a round hundred) appears
// in README.md or a docs/*.md file.
//
// What they cannot see: a copy rounded differently from the table, or a figure that is in a
// dated section of bench/RESULTS.md but not in the table. They guard against copying the table,
// not against every number a document may hold.

import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";

const RESULTS = join(REPO_ROOT, "bench/RESULTS.md");
const COLUMNS = ["figure", "latest", "date", "machine", "command", "section"] as const;
// A number as written (dots and commas inside: "2.9.6" is one token, not "2.9"), and the unit
// right after it, if any.
const NUMBER =
  /(?<![\d.,])(\d(?:[\d.,]*\d)?)(?!\d)(?:\s?(ms|µs|us|MB|MiB|KB|KiB|GiB|kB|B|%|x)(?![A-Za-z]))?/g;

type Row = Record<(typeof COLUMNS)[number], string> & { line: string };

/** A figure as written: its number, and its unit when one follows it or the range it ends. */
type Figure = { number: string; unit: string | undefined };

/**
 * The figures a copy of `text` would carry verbatim: a number with a decimal point ("5.65")
 * or a thousands separator ("19,936", not a round "10,000"), or an integer of three digits or
 * more with its unit ("688 ms", not a round "500 ms"). Versions ("2.9.6") are not numbers. A
 * number without a unit of its own takes the unit of a range or list it starts ("2.3–2.9 / 6.3
 * ms": both in ms), so "2.3–2.5 GiB" is not taken for a copy of "2.3 ms".
 */
function figuresIn(text: string): Figure[] {
  const found: (Figure & { end: number; next: number })[] = [];
  for (const m of text.matchAll(NUMBER)) {
    found.push({ number: m[1]!, unit: m[2], next: m.index, end: m.index + m[0].length });
  }
  for (let i = found.length - 2; i >= 0; i--) {
    const gap = text.slice(found[i]!.end, found[i + 1]!.next);
    if (found[i]!.unit === undefined && /^\s*[–\-\/]\s*$/.test(gap)) {
      found[i]!.unit = found[i + 1]!.unit;
    }
  }
  const figures: Figure[] = [];
  for (const { number, unit } of found) {
    if ((number.match(/\./g) ?? []).length > 1) continue;
    if (number.includes(".") || number.includes(",")) {
      if (!/^\d{1,3}(,000)+$/.test(number)) figures.push({ number, unit });
    } else if (unit !== undefined && number.length >= 3 && Number(number) % 100 !== 0) {
      figures.push({ number, unit });
    }
  }
  return figures;
}

/** Whether `copy` carries `figure`: the same number, and the same unit where both give one. */
function sameFigure(figure: Figure, copy: Figure): boolean {
  return figure.number === copy.number &&
    (figure.unit === undefined || copy.unit === undefined || figure.unit === copy.unit);
}

/** A figure as it reads. */
function shown({ number, unit }: Figure): string {
  return unit === undefined ? number : unit === "x" ? `${number}x` : `${number} ${unit}`;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");
}

/** The rows of the first table under `## Latest figures`, by the columns it must have. */
function latestRows(results: string): Row[] {
  const section = results.split(/^## /m).find((s) => s.startsWith("Latest figures"));
  if (section === undefined) throw new Error("bench/RESULTS.md has no '## Latest figures'");
  const lines = section.split("\n").filter((line) => line.startsWith("|"));
  if (lines.length < 3) throw new Error("'## Latest figures' holds no table");
  const cells = (line: string) => line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim());
  const header = cells(lines[0]!);
  const missing = COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) throw new Error(`the table has no column ${missing.join(", ")}`);
  return lines.slice(2).map((line) => {
    const row = cells(line);
    const entries = COLUMNS.map((c) => [c, row[header.indexOf(c)] ?? ""]);
    return { ...Object.fromEntries(entries), line } as Row;
  });
}

/** What is wrong with the table: a row without its date, machine, command or section. */
function tableProblems(results: string): string[] {
  const anchors = new Set(
    results.split("\n").filter((l) => /^#{2,4} /.test(l)).map((l) =>
      anchorOf(l.replace(/^#+ /, ""))
    ),
  );
  const problems: string[] = [];
  for (const row of latestRows(results)) {
    const name = row.figure || row.line;
    if (row.latest === "") problems.push(`${name}: no value`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(row.date)) problems.push(`${name}: date '${row.date}'`);
    if (row.machine === "") problems.push(`${name}: no machine`);
    if (!/`[^`]*(deno|bash|scripts\/)[^`]*`/.test(row.command)) {
      problems.push(`${name}: command '${row.command}'`);
    }
    const link = /^\[[^\]]+\]\(#([^)]+)\)$/.exec(row.section);
    if (link === null) problems.push(`${name}: section '${row.section}' is not a link`);
    else if (!anchors.has(link[1]!)) problems.push(`${name}: no heading #${link[1]}`);
  }
  return problems;
}

async function documents(): Promise<string[]> {
  const docs = ["README.md"];
  for await (const entry of Deno.readDir(join(REPO_ROOT, "docs"))) {
    if (entry.isFile && entry.name.endsWith(".md")) docs.push(`docs/${entry.name}`);
  }
  return docs.sort();
}

Deno.test("bench/RESULTS.md's figures table gives every figure its date, machine, command and section", async () => {
  const results = await Deno.readTextFile(RESULTS);
  assert.ok(latestRows(results).length >= 10, "the table has fewer than 10 rows");
  assert.deepEqual(tableProblems(results), []);
});

Deno.test("README and docs link to bench/RESULTS.md's figures table instead of copying its numbers", async () => {
  const rows = latestRows(await Deno.readTextFile(RESULTS));
  const figures = rows.flatMap((row) => figuresIn(row.latest));
  assert.ok(figures.length >= 20, `only ${figures.length} distinctive numbers in the table`);
  const copies: string[] = [];
  for (const doc of await documents()) {
    const lines = (await Deno.readTextFile(join(REPO_ROOT, doc))).split("\n");
    lines.forEach((line, i) => {
      for (const copy of figuresIn(line)) {
        const figure = figures.find((f) => sameFigure(f, copy));
        if (figure !== undefined) {
          copies.push(`${doc}:${i + 1}: ${shown(copy)} (table: ${shown(figure)}): ${line.trim()}`);
        }
      }
    });
  }
  assert.deepEqual(copies, [], "figures copied from bench/RESULTS.md's table");
});

Deno.test("the figures table check refuses a row without date, command or a section that exists", () => {
  const table = (row: string) =>
    [
      "## Latest figures",
      "",
      "| figure | latest | date | machine | command | section |",
      "| - | - | - | - | - | - |",
      row,
      "",
      "## Runs",
    ].join("\n");
  const good = "| x | 1.5 ms | 2026-12-04 | EPYC-2 | `deno run -A bench/x.ts` | [runs](#runs) |";
  assert.deepEqual(tableProblems(table(good)), []);
  assert.deepEqual(
    tableProblems(table("| x | 1.5 ms | same | EPYC-2 | same | [runs](#runs) |")),
    ["x: date 'same'", "x: command 'same'"],
  );
  assert.deepEqual(
    tableProblems(table("| x | 1.5 ms | 2026-12-04 |  | `deno run -A bench/x.ts` | [r](#gone) |")),
    ["x: no machine", "x: no heading #gone"],
  );
  assert.throws(() =>
    latestRows("## Latest figures\n\n| figure | latest |\n| - | - |\n| x | 1 |\n")
  );
});

Deno.test("figuresIn keeps what a copy would carry, not versions, round counts or bare integers", () => {
  assert.deepEqual(
    figuresIn(
      "5.65 (median of 30 runs; 3.9–8.2); 19,936 held; 10,000; 688 ms; 500 ms; Deno 2.9.6; 120 s; 125MB; 2.3x; 2.3–2.9 / 6.3 ms",
    ).map(shown),
    ["5.65", "3.9", "8.2", "19,936", "688 ms", "125 MB", "2.3x", "2.3 ms", "2.9 ms", "6.3 ms"],
  );
  const [table] = figuresIn("2.3–2.9 ms");
  assert.ok(sameFigure(table!, figuresIn("p50 2.3 ms")[0]!));
  assert.ok(sameFigure(table!, figuresIn("p50 2.3")[0]!));
  assert.ok(!sameFigure(table!, figuresIn("2.3–2.5 GiB")[0]!));
  assert.equal(
    anchorOf("Update 2026-12-02 13:19–16:46 UTC (fourth session): 19,936 held"),
    "update-2026-12-02-13191646-utc-fourth-session-19936-held",
  );
});
