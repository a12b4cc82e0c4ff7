// End-to-end: what a new operator meets when a setting is wrong, through the real program
// (`deno task hopd`): a policy.modes name that matches no policy, a listen address hopd has
// no transport for, a port another process holds, at start and at reload.
import assert from "node:assert/strict";
import { join } from "node:path";
import { hopdCommand, REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";

const HEALTHY_POLICY = `export function evaluate() { return { verdict: "healthy" }; }\n`;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-operator-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A policies directory with `names`, each a healthy policy. */
async function policiesDir(dir: string, names: readonly string[]): Promise<string> {
  const policies = join(dir, "policies");
  await Deno.mkdir(policies, { recursive: true });
  for (const name of names) await Deno.writeTextFile(join(policies, `${name}.js`), HEALTHY_POLICY);
  return policies;
}

function runArgs(dir: string, extra: string[]): string[] {
  return [
    "run",
    "--data-dir",
    join(dir, "data"),
    "--http",
    "127.0.0.1:0",
    "--log-format",
    "json",
    ...extra,
  ];
}

/**
 * `hopd <args>` ({@linkcode hopdCommand}) to its exit, killed after a minute: each case here must end on its
 * own (a config or listen error), and one that serves instead is the failure being tested for.
 */
async function runToExit(args: string[]): Promise<{ code: number; stderr: string }> {
  const hopd = hopdCommand();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...hopd.args, ...args],
    cwd: REPO_ROOT,
    env: { ...hopd.env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

/** Every stderr line, parsed; fails on a line that is not JSON. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr.trimEnd().split("\n").map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new assert.AssertionError({ message: `not a JSON line: ${line}\n${stderr}` });
    }
  });
}

Deno.test("hopd run refuses a policy.modes name that matches no policy (exit 78), naming the known ones", async () => {
  await withTempDir(async (dir) => {
    const policies = await policiesDir(dir, ["restart_on_memory", "throttle_on_latency"]);
    const config = join(dir, "hopd.toml");
    await Deno.writeTextFile(
      config,
      `[policy]\ndir = "${policies}"\nmodes = ["restart_on_memroy=dryrun"]\n`,
    );
    const result = await runToExit([
      ...runArgs(dir, ["--config", config, "--listen", "/ip4/127.0.0.1/tcp/0"]),
    ]);
    assert.equal(result.code, 78, result.stderr);
    assert.match(
      result.stderr,
      /'policy\.modes' names 'restart_on_memroy' that match no policy .*\(did you mean 'restart_on_memory'\?\)/,
    );
    assert.match(result.stderr, /known policies are restart_on_memory, throttle_on_latency/);
  });
});

Deno.test("hopd run with a QUIC listen address exits 78 naming node.listen, before binding anything", async () => {
  await withTempDir(async (dir) => {
    const result = await runToExit(
      runArgs(dir, ["--listen", "/ip4/127.0.0.1/udp/0/quic-v1"]),
    );
    assert.equal(result.code, 78, result.stderr);
    assert.match(result.stderr, /'node\.listen\.0'/);
    assert.match(result.stderr, /quic-v1/);
    assert.match(result.stderr, /\/ip4\/<address>\/tcp\/<port>/);
    assert.doesNotMatch(result.stderr, /faultTolerance|\n\s+at /);
  });
});

Deno.test("hopd run on a port another process holds exits 1 with one line naming the key", async (t) => {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = held.addr.port;
  const cases: [string, string[], RegExp][] = [
    [
      "node.listen",
      ["--listen", `/ip4/127.0.0.1/tcp/${port}`],
      new RegExp(
        `^Cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port} \\(node\\.listen\\): address already in use`,
      ),
    ],
    [
      "http.listen",
      ["--listen", "/ip4/127.0.0.1/tcp/0", "--http", `127.0.0.1:${port}`],
      new RegExp(
        `^Cannot listen on 127\\.0\\.0\\.1:${port} \\(http\\.listen\\): address already in use`,
      ),
    ],
  ];
  for (const [name, args, expected] of cases) {
    await t.step(name, async () => {
      await withTempDir(async (dir) => {
        const result = await runToExit(runArgs(dir, args));
        assert.equal(result.code, 1, result.stderr);
        const records = jsonLines(result.stderr);
        const fatal = records.filter((r) => r.level === "FATAL");
        assert.equal(fatal.length, 1, result.stderr);
        const mentions = records.filter((r) => JSON.stringify(r).includes("Cannot listen"));
        assert.equal(mentions.length, 1, `one line about the port:\n${result.stderr}`);
        const message = String((fatal[0]!.properties as Record<string, unknown>).message);
        assert.match(message, expected);
        assert.ok(!message.includes("\n"), message);
        assert.doesNotMatch(result.stderr, /faultTolerance|EADDRINUSE|\n\s+at /);
      });
    });
  }
});

Deno.test("a reload with a mistyped policy.modes keeps the previous settings and says why", async () => {
  await withTempDir(async (dir) => {
    const policies = await policiesDir(dir, ["restart_on_memory"]);
    const config = join(dir, "hopd.toml");
    const write = (mode: string) =>
      Deno.writeTextFile(config, `[policy]\ndir = "${policies}"\nmodes = ["${mode}=dryrun"]\n`);
    await write("restart_on_memory");
    const hopd = await spawnHopd({ args: ["--config", config], dataDir: join(dir, "data") });
    try {
      await write("restart_on_memroy");
      hopd.kill("SIGHUP");
      const failed = await hopd.waitForLog((r) =>
        String(r.message).startsWith("Reload failed, keeping the previous settings")
      );
      assert.match(String(failed.message), /'policy\.modes' names 'restart_on_memroy'/);
      assert.match(String(failed.message), /known policies are restart_on_memory/);
    } finally {
      await hopd.stop();
    }
  });
});

Deno.test("policy.modes names that match no policy while hopd runs are logged once per change", async () => {
  await withTempDir(async (dir) => {
    const policies = await policiesDir(dir, ["first", "second"]);
    const config = join(dir, "hopd.toml");
    // canary.js is still to come: its mode is set first, so it never runs in enforce.
    await Deno.writeTextFile(
      config,
      `[policy]\ndir = "${policies}"\nmodes = ["first=warn", "canary=dryrun"]\n`,
    );
    const hopd = await spawnHopd({ args: ["--config", config], dataDir: join(dir, "data") });
    const warnings = () =>
      hopd.logs.filter((r) => String(r.message).startsWith("policy.modes names"))
        .map((r) => r.properties);
    try {
      await hopd.waitForLog((r) => String(r.message).startsWith("policy.modes names"));
      assert.deepEqual(warnings(), [{
        unknown: ["canary"],
        dir: policies,
        known: ["first", "second"],
      }]);

      await Deno.writeTextFile(join(policies, "canary.js"), HEALTHY_POLICY);
      const canaryMode = async () => {
        const { policies: list } = await (await fetch(`${hopd.opsUrl}/v1/policies`)).json();
        return list.find((p: { name: string }) => p.name === "canary")?.mode;
      };
      await hopd.waitForLog((r) => String(r.message).startsWith('Loaded "policy" "canary"'));
      assert.equal(await canaryMode(), "dryrun", "canary runs in the mode set before it came");

      await Deno.remove(join(policies, "first.js"));
      await hopd.waitForLog((r) =>
        String(r.message).startsWith("policy.modes names") &&
        JSON.stringify(r.properties).includes('"unknown":["first"]')
      );
      assert.deepEqual(warnings(), [
        { unknown: ["canary"], dir: policies, known: ["first", "second"] },
        { unknown: ["first"], dir: policies, known: ["canary", "second"] },
      ]);
      assert.equal(
        hopd.logs.filter((r) => r.level === "WARN" && String(r.message).startsWith("policy.modes"))
          .length,
        2,
      );
    } finally {
      await hopd.stop();
    }
  });
});
