// `hopd run` refuses a bad flag before it builds anything: exit 78 (EX_CONFIG) and one line
// naming the config key, the value and the flag it came from (flagsToOverrides and flagLabel
// in run_command.ts). A good config would start a node, so every case here is a bad one.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CliIo, EXIT_CONFIG, run } from "./mod.ts";

Deno.test("hopd run with a bad flag returns 78 naming the key, the value and the flag", async (t) => {
  const dataDir = join(await Deno.makeTempDir({ prefix: "hopd-run-flags-" }), "data");
  const cases: [string[], RegExp][] = [
    [
      ["--http", "127.0.0.1:99999"],
      /^error: Cannot load config as 'http\.listen' must be HOST:PORT .*current value is "127\.0\.0\.1:99999" \(from --http flag\)\n$/,
    ],
    [
      ["--listen", "/ip4/0.0.0.0/tcp/4001", "--listen", "/ip4/1.2.3/tcp/x"],
      /^error: Cannot load config as 'node\.listen\.1' must be a multiaddr .*current value is "\/ip4\/1\.2\.3\/tcp\/x" \(from --listen flag\)\n$/,
    ],
    [
      ["--announce", "not-a-multiaddr"],
      /^error: Cannot load config as 'node\.announce\.0' .*"not-a-multiaddr" \(from --announce flag\)\n$/,
    ],
  ];
  try {
    for (const [flags, message] of cases) {
      await t.step(flags.join(" "), async () => {
        const err: string[] = [];
        const io: CliIo = {
          stdout: () => {},
          stderr: (text) => void err.push(text),
          env: () => ({}),
        };
        const code = await run(["run", "--data-dir", dataDir, ...flags], io);
        assert.equal(code, EXIT_CONFIG, err.join(""));
        assert.match(err.join(""), message);
        // Refused before anything was built: no data directory, no identity.
        await assert.rejects(Deno.stat(dataDir), Deno.errors.NotFound);
      });
    }
  } finally {
    await Deno.remove(join(dataDir, ".."), { recursive: true });
  }
});
