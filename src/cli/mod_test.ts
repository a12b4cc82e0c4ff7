import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { VERSION } from "../version.ts";
import { ManualClock } from "../clock/mod.ts";
import {
  type CliIo,
  EXIT_CONFIG,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  HEALTH_NOT_READY,
  HEALTH_READY,
  HEALTH_UNREACHABLE,
  run,
} from "./mod.ts";

interface Captured extends CliIo {
  readonly out: string[];
  readonly err: string[];
  stdoutText(): string;
  stderrText(): string;
}

function capture(env: Record<string, string> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    env: () => ({ ...env }),
    stdoutText: () => out.join(""),
    stderrText: () => err.join(""),
  };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hopd_cli_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Serves `handler` on 127.0.0.1 at a free port for the length of `fn`. */
async function withServer(
  handler: (request: Request) => Response,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

Deno.test("version and --version print 'hopd <version>' and return 0", async (t) => {
  for (const args of [["version"], ["--version"], ["-V"]]) {
    await t.step(args.join(" "), async () => {
      const io = capture();
      assert.equal(await run(args, io), EXIT_OK);
      const text = io.stdoutText();
      assert.ok(text.startsWith(`hopd ${VERSION} `), text);
      assert.ok(text.endsWith("\n"));
      assert.equal(text.trimEnd().split("\n").length, 1);
      assert.equal(io.stderrText(), "");
    });
  }
});

Deno.test("--help prints usage naming every command and returns 0", async () => {
  const io = capture();
  assert.equal(await run(["--help"], io), EXIT_OK);
  const text = io.stdoutText();
  for (const command of ["run", "health", "keygen", "peer-id", "config", "version"]) {
    assert.match(text, new RegExp(`^\\s+${command}\\b`, "m"), `${command} missing from:\n${text}`);
  }
});

Deno.test("a command's --help returns 0 and names its options", async () => {
  const io = capture();
  assert.equal(await run(["health", "--help"], io), EXIT_OK);
  assert.ok(io.stdoutText().includes("--timeout"), io.stdoutText());
});

Deno.test("usage errors return 2 and say what was wrong on stderr", async (t) => {
  const cases: [string, string[], RegExp][] = [
    ["no arguments", [], /Usage: hopd/],
    ["unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["unknown flag", ["--frobnicate"], /unknown option '--frobnicate'/],
    ["unknown flag on a command", ["version", "--frobnicate"], /unknown option '--frobnicate'/],
    ["unknown config subcommand", ["config", "frobnicate"], /unknown command 'frobnicate'/],
    ["keygen without --output", ["keygen"], /required option '-o, --output <file>'/],
    ["peer-id without a file", ["peer-id"], /missing required argument 'file'/],
    ["config check without a file", ["config", "check"], /missing required argument 'file'/],
    ["bad --log-level choice", ["run", "--log-level", "loud"], /--log-level/],
  ];
  for (const [name, args, expected] of cases) {
    await t.step(name, async () => {
      const io = capture();
      assert.equal(await run(args, io), EXIT_USAGE);
      assert.match(io.stderrText(), expected);
    });
  }
});

Deno.test("config example prints TOML that parses and has every section", async () => {
  const io = capture();
  assert.equal(await run(["config", "example"], io), EXIT_OK);
  const parsed = parseToml(io.stdoutText());
  assert.deepEqual(Object.keys(parsed), [
    "node",
    "connections",
    "http",
    "log",
    "limits",
    "access",
    "admin",
    "tls",
    "acme",
    "relay",
    "autonat",
    "policy",
    "federation",
  ]);
  assert.equal((parsed.http as { listen: string }).listen, "127.0.0.1:8080");
});

Deno.test("config check returns 0 for a good file and 78 naming the key for a bad one", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("the example config", async () => {
      const path = join(dir, "example.toml");
      const example = capture();
      await run(["config", "example"], example);
      await Deno.writeTextFile(path, example.stdoutText());
      const io = capture();
      assert.equal(await run(["config", "check", path], io), EXIT_OK);
      assert.equal(io.stdoutText(), `${path}: ok\n`);
      assert.equal(io.stderrText(), "");
    });
    await t.step("a negative count", async () => {
      const path = join(dir, "bad.toml");
      await Deno.writeTextFile(path, "[relay]\nmax_reservations = -3\n");
      const io = capture();
      assert.equal(await run(["config", "check", path], io), EXIT_CONFIG);
      const stderr = io.stderrText();
      assert.ok(stderr.startsWith("error: "), stderr);
      assert.ok(stderr.includes("'relay.max_reservations'"), stderr);
      assert.ok(stderr.includes("-3"), stderr);
      assert.ok(stderr.includes(path), stderr);
      assert.equal(io.stdoutText(), "");
    });
    await t.step("invalid TOML", async () => {
      const path = join(dir, "broken.toml");
      await Deno.writeTextFile(path, "[relay\n");
      const io = capture();
      assert.equal(await run(["config", "check", path], io), EXIT_CONFIG);
      assert.ok(io.stderrText().includes("not valid TOML"), io.stderrText());
    });
    await t.step("a missing file", async () => {
      const path = join(dir, "missing.toml");
      const io = capture();
      assert.equal(await run(["config", "check", path], io), EXIT_CONFIG);
      assert.ok(io.stderrText().includes("does not exist"), io.stderrText());
    });
  });
});

Deno.test("config check catches what only failed at start: listen forms, policy.modes names, TOML positions", async (t) => {
  await withTempDir(async (dir) => {
    const check = async (name: string, toml: string) => {
      const path = join(dir, name);
      await Deno.writeTextFile(path, toml);
      const io = capture();
      return { code: await run(["config", "check", path], io), io, path };
    };
    await t.step(
      "a QUIC listen address is a config error naming node.listen and the forms",
      async () => {
        const { code, io } = await check(
          "quic.toml",
          '[node]\nlisten = ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"]\n',
        );
        assert.equal(code, EXIT_CONFIG);
        const stderr = io.stderrText();
        assert.match(stderr, /'node\.listen\.1'/);
        assert.match(stderr, /"\/ip4\/0\.0\.0\.0\/udp\/4001\/quic-v1"/);
        assert.match(stderr, /\/ip4\/<address>\/tcp\/<port>.*\/ws.*\/wss/);
      },
    );
    await t.step("a TOML syntax error gives its line and column", async () => {
      const { code, io } = await check(
        "syntax.toml",
        '[node]\ndata_dir = "x"\nlisten = [\n"a"\n[http]\n',
      );
      assert.equal(code, EXIT_CONFIG);
      assert.match(io.stderrText(), /not valid TOML: line 5, column 1: /);
    });
    await Deno.mkdir(join(dir, "policies"));
    for (const name of ["restart_on_memory", "scale_up_on_load"]) {
      await Deno.writeTextFile(join(dir, "policies", `${name}.js`), "");
    }
    await Deno.writeTextFile(join(dir, "policies", "scale_up_on_load_test.js"), "");
    await t.step(
      "a policy.modes name a typo away from a policy is an error naming it",
      async () => {
        const { code, io } = await check(
          "modes.toml",
          `[policy]\ndir = "${join(dir, "policies")}"\n` +
            'modes = ["restart_on_memroy=dryrun", "scale_up_on_load=warn"]\n',
        );
        assert.equal(code, EXIT_CONFIG);
        assert.match(
          io.stderrText(),
          /'policy\.modes' names 'restart_on_memroy' that match no policy in '.*' \(did you mean 'restart_on_memory'\?\)/,
        );
        assert.match(io.stderrText(), /known policies are restart_on_memory, scale_up_on_load$/m);
      },
    );
    await t.step("a name far from every policy is a policy to come: a warning", async () => {
      const { code, io, path } = await check(
        "modes_later.toml",
        `[policy]\ndir = "${join(dir, "policies")}"\nmodes = ["canary=dryrun"]\n`,
      );
      assert.equal(code, EXIT_OK);
      assert.equal(io.stdoutText(), `${path}: ok\n`);
      assert.match(
        io.stderrText(),
        /^warning: 'policy\.modes' names 'canary' that match no policy in '.*' yet: each mode applies when its file appears \(known policies are restart_on_memory, scale_up_on_load\)$/m,
      );
    });
    await t.step("the same names against policies that exist are ok", async () => {
      const { code, io } = await check(
        "modes_ok.toml",
        `[policy]\ndir = "${join(dir, "policies")}"\n` +
          'modes = ["restart_on_memory=dryrun", "scale_up_on_load=warn"]\n',
      );
      assert.equal(code, EXIT_OK, io.stderrText());
      assert.equal(io.stderrText(), "");
    });
    await t.step(
      "a policies directory that does not exist yet: a warning, not an error",
      async () => {
        const { code, io, path } = await check(
          "modes_nodir.toml",
          `[policy]\ndir = "${join(dir, "later")}"\nmodes = ["restart_on_memroy=dryrun"]\n`,
        );
        assert.equal(code, EXIT_OK);
        assert.equal(io.stdoutText(), `${path}: ok\n`);
        assert.match(
          io.stderrText(),
          /^warning: 'policy\.modes' names 'restart_on_memroy', but .* does not exist yet/,
        );
      },
    );
  });
});

Deno.test("keygen writes a key once, and peer-id reads back the same peer ID", async (t) => {
  await withTempDir(async (dir) => {
    const path = join(dir, "keys", "identity.key");
    let peerId = "";
    let bytes = new Uint8Array();

    await t.step("keygen prints the new peer ID and writes the key", async () => {
      const io = capture();
      assert.equal(await run(["keygen", "--output", path], io), EXIT_OK);
      peerId = io.stdoutText().trim();
      assert.match(peerId, /^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
      bytes = await Deno.readFile(path);
      assert.equal(bytes.byteLength, 68);
    });
    await t.step(
      "a second keygen to the same path returns 1 and leaves the file unchanged",
      async () => {
        const io = capture();
        assert.equal(await run(["keygen", "-o", path], io), EXIT_FAILURE);
        assert.ok(io.stderrText().includes("refusing to overwrite"), io.stderrText());
        assert.equal(io.stdoutText(), "");
        assert.deepEqual(await Deno.readFile(path), bytes);
      },
    );
    await t.step("peer-id prints the same ID", async () => {
      const io = capture();
      assert.equal(await run(["peer-id", path], io), EXIT_OK);
      assert.equal(io.stdoutText(), `${peerId}\n`);
    });
  });
});

Deno.test("peer-id of a file that is not a key returns 78", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("a corrupt file", async () => {
      const path = join(dir, "corrupt.key");
      await Deno.writeFile(path, new Uint8Array(68).fill(0xff));
      const io = capture();
      assert.equal(await run(["peer-id", path], io), EXIT_CONFIG);
      assert.ok(io.stderrText().includes(path), io.stderrText());
      assert.equal(io.stdoutText(), "");
    });
    await t.step("a missing file", async () => {
      const io = capture();
      assert.equal(await run(["peer-id", join(dir, "missing.key")], io), EXIT_CONFIG);
    });
  });
});

Deno.test("health against a closed port returns 2 with one 'unreachable:' line", async () => {
  const port = closedPort();
  const io = capture();
  assert.equal(await run(["health", "--url", `http://127.0.0.1:${port}`], io), HEALTH_UNREACHABLE);
  const lines = io.stdoutText().trimEnd().split("\n");
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.startsWith("unreachable:"), lines[0]);
  assert.ok(lines[0]!.includes(`127.0.0.1:${port}/ready`), lines[0]);
});

Deno.test("health returns 1 with the node's reasons when /ready answers 503", async () => {
  let path = "";
  await withServer((request) => {
    path = new URL(request.url).pathname;
    return Response.json({ ready: false, reasons: ["node is draining"] }, { status: 503 });
  }, async (url) => {
    const io = capture();
    assert.equal(await run(["health", "--url", url], io), HEALTH_NOT_READY);
    assert.ok(io.stdoutText().startsWith("not ready:"), io.stdoutText());
    assert.ok(io.stdoutText().includes("node is draining"), io.stdoutText());
  });
  assert.equal(path, "/ready", "a URL without a path probes /ready");
});

Deno.test("health returns 0 when /ready answers 200 ready true", async () => {
  await withServer(() => Response.json({ ready: true, reasons: [] }), async (url) => {
    const io = capture();
    assert.equal(
      await run(["health", "--url", `${url}/ready`, "--timeout", "2s"], io),
      HEALTH_READY,
    );
    assert.ok(io.stdoutText().startsWith(`ready: ${url}/ready`), io.stdoutText());
  });
});

Deno.test("health returns 2 when the answer is not a hopd readiness reply", async (t) => {
  const cases: [string, () => Response][] = [
    ["200 without ready true", () => Response.json({ ok: true })],
    ["200 that is not JSON", () => new Response("hello")],
    ["500", () => new Response("oops", { status: 500 })],
  ];
  for (const [name, handler] of cases) {
    await t.step(name, async () => {
      await withServer(handler, async (url) => {
        const io = capture();
        assert.equal(await run(["health", "--url", url], io), HEALTH_UNREACHABLE);
        assert.ok(io.stdoutText().startsWith("unreachable:"), io.stdoutText());
      });
    });
  }
});

Deno.test("health rejects a bad --timeout or --url without probing", async (t) => {
  const cases: [string, string[], number, RegExp, "stdout" | "stderr"][] = [
    ["--timeout nonsense", ["--timeout", "nonsense"], 2, /--timeout/, "stderr"],
    ["--timeout 0", ["--timeout", "0"], 2, /--timeout/, "stderr"],
    ["--url not-a-url", ["--url", "not a url"], 2, /^error: --url must be an http/, "stderr"],
    ["--url ftp://", ["--url", "ftp://127.0.0.1:1"], 2, /^error: --url must be an http/, "stderr"],
  ];
  for (const [name, args, code, expected, stream] of cases) {
    await t.step(name, async () => {
      const io = capture();
      assert.equal(await run(["health", ...args], io), code);
      assert.match(stream === "stdout" ? io.stdoutText() : io.stderrText(), expected);
    });
  }
});

Deno.test("health and admin take HOST:PORT without a scheme and the same --timeout forms", async (t) => {
  await withServer((request) => {
    const path = new URL(request.url).pathname;
    return path === "/ready"
      ? Response.json({ ready: true, reasons: [] })
      : Response.json({ bans: [], total: 0 });
  }, async (url) => {
    const hostPort = url.slice("http://".length);
    for (const timeout of ["5s", "5", "1500ms", "0.5"]) {
      await t.step(`health --url ${hostPort} --timeout ${timeout}`, async () => {
        const io = capture();
        const code = await run(["health", "--url", hostPort, "--timeout", timeout], io);
        assert.equal(code, HEALTH_READY, io.stdoutText() + io.stderrText());
        assert.ok(io.stdoutText().startsWith(`ready: ${url}/ready`), io.stdoutText());
      });
      await t.step(`admin --url ${hostPort} --timeout ${timeout} bans`, async () => {
        const io = capture();
        const code = await run(["admin", "--url", hostPort, "--timeout", timeout, "bans"], io);
        assert.equal(code, EXIT_OK, io.stderrText());
        assert.deepEqual(JSON.parse(io.stdoutText()), { bans: [], total: 0 });
      });
    }
  });
  await t.step("admin rejects a --timeout that is neither form", async () => {
    const io = capture();
    assert.equal(await run(["admin", "--timeout", "soon", "bans"], io), EXIT_USAGE);
    assert.match(io.stderrText(), /--timeout must be a duration such as "5s"/);
  });
});

Deno.test("admin --timeout 1m waits a minute for an answer, and --timeout 1 one second", async (t) => {
  // A node that answers when the test says, after the CLI's clock has moved: "1m" read as
  // "1" second would give up at 1 s.
  const cases: [string, number, number][] = [["1m", 59_999, EXIT_OK], ["1", 1_000, EXIT_FAILURE]];
  for (const [timeout, waitedMs, expected] of cases) {
    await t.step(`--timeout ${timeout}, the node answering after ${waitedMs} ms`, async () => {
      const clock = new ManualClock();
      const asked = Promise.withResolvers<void>();
      const answer = Promise.withResolvers<void>();
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        async () => {
          asked.resolve();
          await answer.promise;
          return Response.json({ bans: [], total: 0 });
        },
      );
      try {
        const io = { ...capture(), clock };
        const url = `http://127.0.0.1:${server.addr.port}`;
        const code = run(["admin", "--url", url, "--timeout", timeout, "bans"], io);
        await asked.promise;
        clock.advance(waitedMs);
        answer.resolve();
        assert.equal(await code, expected, io.stderrText());
        assert.equal(clock.pendingTimers, 0, "the timeout's timer is cleared");
      } finally {
        answer.resolve();
        await server.shutdown();
      }
    });
  }
});
