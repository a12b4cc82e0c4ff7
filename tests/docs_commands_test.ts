// Every command the docs show together with its output is run here and its output compared.
//
// Convention (README.md, SECURITY.md, CONTRIBUTING.md, docs/*.md): a ```console block holds
// `$ command` lines, each followed by the output it prints (stdout and stderr). In expected
// output, `…` matches any text within a line, and a line holding only `…` matches any number
// of lines. Commands run with bash from the repository root, one hopd per document (started
// fresh, loopback, port 0), in order, so a block may change the node for the next one. Before
// running, these strings are replaced in commands and expected output alike:
//   127.0.0.1:8080  → the node's ops address      /etc/hopd/      → a temp config dir
//   /var/lib/hopd/  → the node's data dir         hopd            → `deno task hopd` (the
//                                                                   binary's permission set)
// and `hopd health` / `hopd admin …` without --url get the node's URL (their default is
// http://127.0.0.1:8080).
// Commands shown without output (```sh blocks) are not run.

import assert from "node:assert/strict";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";

interface DocCommand {
  readonly file: string;
  readonly line: number;
  readonly command: string;
  readonly expected: string[];
}

/** The `$ command` + output pairs of every ```console block in `text`. */
export function consoleCommands(file: string, text: string): DocCommand[] {
  const commands: DocCommand[] = [];
  const lines = text.split("\n");
  let inBlock = false;
  let current: { line: number; command: string; expected: string[] } | undefined;
  const flush = () => {
    if (current !== undefined) commands.push({ file, ...current });
    current = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!inBlock) {
      inBlock = line.trim() === "```console";
      continue;
    }
    if (line.trim() === "```") {
      flush();
      inBlock = false;
    } else if (line.startsWith("$ ")) {
      flush();
      current = { line: i + 1, command: line.slice(2), expected: [] };
    } else {
      assert.ok(current, `${file}:${i + 1}: output before any $ command`);
      current.expected.push(line);
    }
  }
  return commands;
}

/** Whether `actual` lines match `expected` lines with `…` wildcards. */
export function matchesOutput(expected: string[], actual: string[]): boolean {
  const lineRegex = (pattern: string) =>
    new RegExp(
      "^" + pattern.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*") +
        "$",
    );
  const match = (e: number, a: number): boolean => {
    if (e === expected.length) return a === actual.length;
    if (expected[e]!.trim() === "…") {
      for (let skip = a; skip <= actual.length; skip++) if (match(e + 1, skip)) return true;
      return false;
    }
    return a < actual.length && lineRegex(expected[e]!).test(actual[a]!) && match(e + 1, a + 1);
  };
  return match(0, 0);
}

Deno.test("console-block matching: wildcards within and across lines", () => {
  assert.ok(matchesOutput(["ready: … (… ms)"], ["ready: http://x/ready (3 ms)"]));
  assert.ok(!matchesOutput(["ready: … (… ms)"], ["not ready: http://x/ready"]));
  assert.ok(matchesOutput(["a", "…", "z"], ["a", "b", "c", "z"]));
  assert.ok(matchesOutput(["a", "…", "z"], ["a", "z"]));
  assert.ok(!matchesOutput(["a", "z"], ["a", "b", "z"]));
  assert.ok(!matchesOutput(["a"], ["a", "b"]));
});

async function docFiles(): Promise<string[]> {
  const files = ["README.md", "SECURITY.md", "CONTRIBUTING.md"];
  for await (const entry of Deno.readDir(`${REPO_ROOT}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  const present: string[] = [];
  for (const file of files.sort()) {
    try {
      await Deno.stat(`${REPO_ROOT}${file}`);
      present.push(file);
    } catch { /* not written (yet) */ }
  }
  return present;
}

const all: DocCommand[] = [];
for (const file of await docFiles()) {
  all.push(...consoleCommands(file, await Deno.readTextFile(`${REPO_ROOT}${file}`)));
}
const byFile = Map.groupBy(all, (c) => c.file);

Deno.test("the docs show commands with output (and this test runs them)", () => {
  assert.ok(all.length >= 8, `only ${all.length} documented commands found`);
  assert.ok(byFile.has("docs/OPERATIONS.md"));
});

for (const [file, commands] of byFile) {
  Deno.test(`${file}: every command shown with its output prints that output`, async () => {
    const etc = await Deno.makeTempDir({ prefix: "hopd-docs-etc-" });
    await Deno.copyFile(`${REPO_ROOT}scripts/hopd.toml`, `${etc}/hopd.toml`);
    const hopd = await spawnHopd();
    const opsHostPort = hopd.opsUrl.replace("http://", "");
    const substitute = (text: string) =>
      text.replaceAll("127.0.0.1:8080", opsHostPort).replaceAll("/etc/hopd/", `${etc}/`)
        .replaceAll("/var/lib/hopd/", `${hopd.dataDir}/`);
    // `hopd health` and `hopd admin` default to http://127.0.0.1:8080: give them the node's.
    const prelude = `hopd() {
  local extra=()
  if [[ "$1" == health || "$1" == admin ]] && [[ " $* " != *" --url "* ]]; then
    extra=(--url '${hopd.opsUrl}')
  fi
  '${Deno.execPath()}' task --quiet hopd "$@" "\${extra[@]}"
}
export -f hopd`;
    try {
      for (const { line, command, expected } of commands) {
        const output = await new Deno.Command("bash", {
          args: ["-c", `${prelude}\n${substitute(command)} 2>&1`],
          cwd: REPO_ROOT,
          clearEnv: true,
          env: childEnv({ NO_COLOR: "1" }),
          stdin: "null",
        }).output();
        const actual = new TextDecoder().decode(output.stdout).replace(/\s+$/, "").split("\n")
          .map((l) => l.trimEnd());
        const want = expected.map(substitute).map((l) => l.trimEnd());
        while (want.length > 0 && want.at(-1) === "") want.pop();
        assert.ok(
          matchesOutput(want, actual.length === 1 && actual[0] === "" ? [] : actual),
          `${file}:${line}: $ ${command}\n--- expected\n${want.join("\n")}\n--- actual\n${
            actual.join("\n")
          }`,
        );
      }
    } finally {
      await hopd.stop();
      await Deno.remove(etc, { recursive: true });
      await Deno.remove(hopd.dataDir, { recursive: true }).catch(() => {});
    }
  });
}
