import assert from "node:assert/strict";
import { parseHookEntry, splitCommandLine } from "./command_line.ts";

Deno.test("splitCommandLine() quotes like a shell and refuses what only a shell would do", async (t) => {
  const splits: [string, string[]][] = [
    ["/usr/bin/systemctl restart hopd", ["/usr/bin/systemctl", "restart", "hopd"]],
    ["  /bin/x   a\tb  ", ["/bin/x", "a", "b"]],
    [`"/opt/hop hooks/scale up.sh" --region 'eu west'`, [
      "/opt/hop hooks/scale up.sh",
      "--region",
      "eu west",
    ]],
    [String.raw`/opt/hop\ hooks/x`, ["/opt/hop hooks/x"]],
    [String.raw`/bin/echo "say \"hi\" \$HOME" 'a|b' "*"`, [
      "/bin/echo",
      'say "hi" $HOME',
      "a|b",
      "*",
    ]],
    [`/bin/echo ''`, ["/bin/echo", ""]],
    [`/bin/echo a"b c"d`, ["/bin/echo", "ab cd"]],
  ];
  for (const [text, argv] of splits) {
    await t.step(`splits ${text}`, () => assert.deepEqual(splitCommandLine(text), { argv }));
  }
  const refused: [string, RegExp][] = [
    [`"/opt/hop hooks/x`, /unbalanced double quote/],
    [`/bin/x 'a`, /unbalanced single quote/],
    [`/bin/x \\`, /ends with a backslash/],
    ["/bin/backup | tee log", /unquoted '\|'/],
    ["/bin/x > out", /unquoted '>'/],
    ["/bin/x $HOME", /unquoted '\$'/],
    ["/bin/x `id`", /unquoted '`'/],
    ["/bin/rm /tmp/*", /unquoted '\*'/],
    ["/bin/a; /bin/b", /unquoted ';'/],
    ["   ", /no command/],
  ];
  for (const [text, problem] of refused) {
    await t.step(`refuses ${text}`, () => {
      const split = splitCommandLine(text);
      assert.ok("problem" in split, JSON.stringify(split));
      assert.match(split.problem, problem);
    });
  }
});

Deno.test("parseHookEntry() reads both forms and wants an absolute command", async (t) => {
  await t.step("the string form, quoted", () => {
    assert.deepEqual(parseHookEntry(`up="/opt/hop hooks/up.sh" --region eu`), {
      name: "up",
      argv: ["/opt/hop hooks/up.sh", "--region", "eu"],
    });
  });
  await t.step("the argv form, as given", () => {
    assert.deepEqual(parseHookEntry({ name: "up", argv: ["/opt/hop hooks/up.sh", "a b"] }), {
      name: "up",
      argv: ["/opt/hop hooks/up.sh", "a b"],
    });
  });
  const problems: [unknown, RegExp][] = [
    ["up=scale-up --region eu", /absolute path: "scale-up"/],
    [{ name: "up", argv: ["scale-up"] }, /absolute path/],
    ["up=/opt/a,b/x", /comma/],
    ["=/bin/x", /must be "<name>=<command>/],
    ["no command", /must be "<name>=<command>/],
    [{ name: "up", argv: [] }, /must be "<name>=<command>/],
    [{ name: "up", argv: ["/bin/x"], shell: true }, /must be "<name>=<command>/],
    [42, /must be "<name>=<command>/],
    ["up=/bin/x | tee", /cannot be split .* unquoted '\|'.*argv/],
  ];
  for (const [entry, problem] of problems) {
    await t.step(`refuses ${JSON.stringify(entry)}`, () => {
      const parsed = parseHookEntry(entry);
      assert.ok("problem" in parsed, JSON.stringify(parsed));
      assert.match(parsed.problem, problem);
    });
  }
});
