/**
 * Splits a command written as one string in the config (`policy.hooks = ["name=command
 * args"]`) into argv the way a POSIX shell would quote it, without any of what else a shell
 * does: hooks run without a shell, so a pipe, a redirection, a variable or a glob would be
 * passed on literally. Such a string is refused rather than run differently from how it
 * reads; quoting makes the characters literal.
 *
 * - whitespace separates words; `'…'` keeps everything literally; `"…"` keeps everything but
 *   `\"`, `\\`, `` \` `` and `\$`, which lose the backslash; a backslash outside quotes makes
 *   the next character literal;
 * - unquoted `|`, `&`, `;`, `<`, `>`, `(`, `)`, `$`, `` ` ``, `*`, `?`, `[`, `~` and `#` are
 *   refused, as are an unbalanced quote and a trailing backslash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitCommandLine } from "./command_line.ts";
 * assert.deepEqual(splitCommandLine(`"/opt/hop hooks/scale-up" --region 'eu west'`), {
 *   argv: ["/opt/hop hooks/scale-up", "--region", "eu west"],
 * });
 * assert.deepEqual(splitCommandLine("/bin/backup | tee log"), {
 *   problem: "has an unquoted '|', which only a shell understands, and hooks run without one",
 * });
 * ```
 *
 * @module
 */

/** Characters only a shell gives a meaning to. */
const SHELL_ONLY = new Set(["|", "&", ";", "<", ">", "(", ")", "$", "`", "*", "?", "[", "~", "#"]);
/** Characters a backslash escapes inside double quotes. */
const DOUBLE_QUOTED_ESCAPES = new Set(['"', "\\", "`", "$"]);

/**
 * Splits `text` into argv.
 *
 * @param text The command and its arguments.
 * @returns The words, or why the text cannot be split safely.
 */
export function splitCommandLine(text: string): { argv: string[] } | { problem: string } {
  const argv: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (chars: string) => word = (word ?? "") + chars;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) argv.push(word);
      word = undefined;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return { problem: "has an unbalanced single quote" };
      add(text.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      const read = doubleQuoted(text, i + 1);
      if (read === undefined) return { problem: "has an unbalanced double quote" };
      add(read.text);
      i = read.next;
    } else if (c === "\\") {
      if (i + 1 >= text.length) return { problem: "ends with a backslash" };
      add(text[i + 1]!);
      i += 2;
    } else if (SHELL_ONLY.has(c)) {
      return {
        problem:
          `has an unquoted '${c}', which only a shell understands, and hooks run without one`,
      };
    } else {
      add(c);
      i++;
    }
  }
  if (word !== undefined) argv.push(word);
  if (argv.length === 0) return { problem: "has no command" };
  return { argv };
}

function doubleQuoted(text: string, from: number): { text: string; next: number } | undefined {
  let out = "";
  for (let i = from; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') return { text: out, next: i + 1 };
    if (c === "\\" && DOUBLE_QUOTED_ESCAPES.has(text[i + 1] ?? "")) {
      out += text[++i];
    } else {
      out += c;
    }
  }
  return undefined;
}

/** A `policy.hooks` entry as written: `"name=command args"` or `{ name, argv }`. */
export type HookEntry = string | { readonly name: string; readonly argv: readonly string[] };

const HOOK_NAME = /^[A-Za-z0-9_-]+$/;
const HOOK_FORMS = 'must be "<name>=<command> [args…]" or { name = "<name>", argv = ' +
  '["/path/to/command", "arg", …] }';

/**
 * Reads one `policy.hooks` entry: its name and argv, the command an absolute path (the run
 * permission names exact paths, and no PATH lookup can swap the program).
 *
 * @param entry The entry as the config holds it.
 * @returns The name and argv, or why the entry is not usable.
 */
export function parseHookEntry(
  entry: unknown,
): { name: string; argv: string[] } | { problem: string } {
  let name: string;
  let argv: string[];
  if (typeof entry === "string") {
    const equals = entry.indexOf("=");
    name = entry.slice(0, equals);
    if (equals <= 0 || !HOOK_NAME.test(name)) return { problem: HOOK_FORMS };
    const split = splitCommandLine(entry.slice(equals + 1));
    if ("problem" in split) {
      return {
        problem: `cannot be split into a command and its arguments as it ${split.problem}: ` +
          'quote it, or write it as { name = "…", argv = ["…", …] }',
      };
    }
    argv = split.argv;
  } else if (isArgvEntry(entry)) {
    ({ name, argv } = { name: entry.name, argv: [...entry.argv] });
  } else {
    return { problem: HOOK_FORMS };
  }
  const command = argv[0]!;
  if (!command.startsWith("/")) {
    return { problem: `must name its command by absolute path: "${command}" is not one` };
  }
  // Deno's --allow-run takes a comma-separated list of programs.
  if (command.includes(",")) return { problem: `must not have a comma in its command path` };
  return { name, argv };
}

function isArgvEntry(entry: unknown): entry is { name: string; argv: string[] } {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return false;
  const { name, argv, ...rest } = entry as Record<string, unknown>;
  return Object.keys(rest).length === 0 && typeof name === "string" && HOOK_NAME.test(name) &&
    Array.isArray(argv) && argv.length > 0 &&
    argv.every((arg) => typeof arg === "string" && arg !== "");
}
