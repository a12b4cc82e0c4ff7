import assert from "node:assert/strict";
import { join } from "node:path";
import { judge, parseDocLint } from "./doc_lint.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs the real `deno doc --lint` (this repository's config) on one module's source. */
async function docLint(source: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-doc-lint-" });
  try {
    await Deno.writeTextFile(join(dir, "mod.ts"), source);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--lint", "--config", join(ROOT, "deno.json"), join(dir, "mod.ts")],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
    }).output();
    return new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const HEADER =
  `/**\n * A module.\n *\n * @module\n */\nimport type { PeerId } from "@libp2p/interface";\n`;

Deno.test("doc lint allows a listed dependency type and fails an undocumented export", async () => {
  const output = await docLint(
    HEADER +
      `/**\n * Its text.\n *\n * @param peer A peer.\n * @returns Its text.\n */\n` +
      `export function text(peer: PeerId): string {\n  return peer.toString();\n}\n` +
      `export const UNDOCUMENTED = 1;\n`,
  );
  const problems = parseDocLint(output);
  assert.deepEqual(problems.map((p) => p.privateType ?? p.rule).sort(), [
    "PeerId",
    "missing-jsdoc",
  ]);
  const verdict = judge(problems, { PeerId: "@libp2p/interface" });
  assert.deepEqual(verdict.failing.map((p) => p.rule), ["missing-jsdoc"]);
  assert.match(verdict.failing[0]!.text, /UNDOCUMENTED/);
  assert.equal(verdict.allowedCount, 1);
  assert.deepEqual(verdict.unused, []);
});

Deno.test("doc lint fails a private local type and a listed name nothing references", async () => {
  const output = await docLint(
    HEADER +
      `interface Hidden {\n  readonly a: number;\n}\n` +
      `/**\n * Shows it.\n *\n * @returns It.\n */\n` +
      `export function shown(): Hidden {\n  return { a: 1 };\n}\n`,
  );
  const verdict = judge(parseDocLint(output), { PeerId: "@libp2p/interface" });
  assert.deepEqual(verdict.failing.map((p) => p.privateType), ["Hidden"]);
  assert.deepEqual(verdict.unused, ["PeerId"]);
});
