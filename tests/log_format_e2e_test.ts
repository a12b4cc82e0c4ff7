// End-to-end: what hopd writes on stderr, through the real program. With log.format = "json"
// every line is a JSON record, including after admin requests whose chunked body once made
// Deno.serve print its legacy request.signal warning raw; pretty logs are coloured only on a
// terminal (a pty from util-linux's `script`) and never with NO_COLOR.
import assert from "node:assert/strict";
import { hopdCommand, REPO_ROOT, spawnHopd } from "./_helpers/hopd_process.ts";

const ESC = "\x1b[";

/** A request body with no Content-Length: sent chunked. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 8) controller.enqueue(bytes.subarray(i, i + 8));
      controller.close();
    },
  });
}

Deno.test("with log.format json every line hopd writes is JSON, admin 404s and chunked bodies included", async () => {
  const hopd = await spawnHopd();
  try {
    const calls: [string, string, string | undefined][] = [
      ["POST", "/v1/admin/nothing", '{"a":1}'],
      ["POST", "/v1/admin/bans", '{"cidr":"198.51.100.0/24","ttl":"1m"}'],
      ["GET", "/v1/admin/nothing", undefined],
      ["GET", "/nothing", undefined],
    ];
    for (const [method, path, body] of calls) {
      const response = await fetch(`${hopd.opsUrl}${path}`, {
        method,
        ...(body === undefined ? {} : {
          headers: { "content-type": "application/json" },
          body: chunked(body),
        }),
      });
      await response.body?.cancel();
      assert.ok([200, 201, 404].includes(response.status), `${method} ${path}: ${response.status}`);
    }
    // A later line proves the earlier ones were all read.
    await fetch(`${hopd.opsUrl}/v1/admin/drain`, { method: "POST" }).then((r) => r.body?.cancel());
    await hopd.waitForLog((r) => String(r.message).startsWith("Draining"));
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
  const notJson = hopd.lines.filter((line) => {
    try {
      return typeof JSON.parse(line) !== "object";
    } catch {
      return true;
    }
  });
  assert.deepEqual(notJson, [], "every stderr line is a JSON record");
  assert.ok(hopd.lines.length >= 5, hopd.lines.join("\n"));
  assert.ok(
    !hopd.lines.some((line) => line.includes("request.signal")),
    "Deno.serve's legacy request.signal warning is not triggered",
  );
});

/** Runs `hopd run` on a port in use (it logs one FATAL line and exits 1), as `how` says. */
async function fatalLine(how: "pipe" | "pty" | "pty NO_COLOR"): Promise<string> {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-log-format-" });
  try {
    const command = hopdCommand();
    const hopd = [
      Deno.execPath(),
      ...command.args,
      "run",
      "--log-format",
      "pretty",
      "--data-dir",
      dataDir,
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--http",
      `127.0.0.1:${held.addr.port}`,
    ];
    const env: Record<string, string> = { ...command.env, TERM: "xterm" };
    if (how === "pty NO_COLOR") env.NO_COLOR = "1";
    // util-linux's script gives the command a pty of its own, as a terminal would.
    const [cmd, args] = how === "pipe"
      ? [hopd[0]!, hopd.slice(1)]
      : ["script", ["-qefc", hopd.join(" "), "/dev/null"]];
    const output = await new Deno.Command(cmd, {
      args,
      cwd: REPO_ROOT,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/",
        ...env,
      },
      stdin: "null",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, text);
    const line = text.split(/\r?\n/).find((l) => l.includes("Cannot start"));
    assert.ok(line, `no FATAL line in:\n${text}`);
    return line;
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("pretty logs are coloured on a terminal only, and never with NO_COLOR", async (t) => {
  await t.step("on a terminal: colour", async () => {
    assert.ok((await fatalLine("pty")).includes(ESC));
  });
  await t.step("on a terminal with NO_COLOR: none", async () => {
    const line = await fatalLine("pty NO_COLOR");
    assert.ok(!line.includes(ESC), JSON.stringify(line));
    assert.match(
      line,
      / FTL hopd·cli: Cannot start: Cannot listen on 127\.0\.0\.1:\d+ \(http\.listen\)/,
    );
  });
  await t.step("into a pipe (journald, a file): none", async () => {
    const line = await fatalLine("pipe");
    assert.ok(!line.includes(ESC), JSON.stringify(line));
  });
});
