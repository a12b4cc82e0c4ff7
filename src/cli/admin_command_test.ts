// `hopd admin ban|unban|bans` against the real ops server: createOpsApp() with the daemon's
// admin control over a real BanList, served by serveOps() on 127.0.0.1, so each command's
// method, path, body and token meet the routes that validate them, and the CLI's error
// paths (the node's refusal, an empty token file, a bad --url) give their exit code and a
// message saying what was wrong.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Libp2p } from "@libp2p/interface";
import { MetricsRegistry } from "../metrics/mod.ts";
import { ManualClock } from "../clock/mod.ts";
import { parseDurationMs } from "../config/mod.ts";
import { adminControl } from "../daemon/admin_control.ts";
import { createOpsApp, serveOps } from "../ops/mod.ts";
import { BanList } from "../ratelimit/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, run } from "./mod.ts";

const TOKEN = "cli-admin-test-token";

function capture(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    env: () => ({ ...env }),
  };
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}

/** A real ops server with the admin API over a real ban list, for the length of `fn`. */
async function withNode(
  fn: (node: { url: string; bans: BanList; tokenFile: string; dir: string }) => Promise<void>,
): Promise<void> {
  const clock = new ManualClock(Date.parse("2030-01-01T00:00:00Z"));
  const bans = new BanList({ clock });
  const app = createOpsApp({
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    clock,
    admin: {
      // Bans touch neither the host nor the relay.
      control: adminControl({
        libp2p: {} as Libp2p,
        relay: {} as Relay,
        bans,
        banWidth: () => ({ prefixMinV4: 16, prefixMinV6: 32 }),
        setDraining: () => {},
      }),
      auth: () => ({ token: TOKEN, allowRemote: false, maxBodyBytes: 64 * 1024 }),
      parseDurationMs,
    },
  });
  const server = await serveOps(app, { hostname: "127.0.0.1", port: 0, clock });
  const dir = await Deno.makeTempDir({ prefix: "hopd-cli-admin-" });
  const tokenFile = join(dir, "admin.token");
  await Deno.writeTextFile(tokenFile, `${TOKEN}\n`);
  try {
    await fn({ url: `http://127.0.0.1:${server.port}`, bans, tokenFile, dir });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("hopd admin ban, bans and unban change and list the node's bans", async () => {
  await withNode(async ({ url, bans, tokenFile }) => {
    const admin = ["admin", "--url", url, "--token-file", tokenFile];
    const ban = capture();
    const banned = await run(
      [...admin, "ban", "--cidr", "203.0.113.0/24", "--ttl", "1h", "--reason", "flood"],
      ban.io,
    );
    assert.equal(banned, EXIT_OK, ban.stderr());
    assert.equal(JSON.parse(ban.stdout()).target, "203.0.113.0/24");
    assert.equal(JSON.parse(ban.stdout()).reason, "flood");
    assert.ok(bans.isIpBanned("203.0.113.9", Date.parse("2030-01-01T00:30:00Z")));

    const list = capture();
    assert.equal(await run([...admin, "bans", "--limit", "10"], list.io), EXIT_OK, list.stderr());
    const listed = JSON.parse(list.stdout());
    assert.equal(listed.limit, 10);
    assert.deepEqual(listed.items.map((b: { target: string }) => b.target), ["203.0.113.0/24"]);

    // The token from $HOPD_ADMIN_TOKEN_FILE when --token-file is not given.
    const unban = capture({ HOPD_ADMIN_TOKEN_FILE: tokenFile });
    assert.equal(
      await run(["admin", "--url", url, "unban", "203.0.113.0/24"], unban.io),
      EXIT_OK,
      unban.stderr(),
    );
    assert.equal(bans.isIpBanned("203.0.113.9", Date.parse("2030-01-01T00:30:00Z")), false);
  });
});

Deno.test("hopd admin errors: exit code and a message saying what was wrong", async (t) => {
  await withNode(async ({ url, tokenFile, dir }) => {
    await t.step("a ban the node refuses: 1, with the node's reason", async () => {
      const io = capture();
      const code = await run(
        ["admin", "--url", url, "--token-file", tokenFile, "ban", "--cidr", "10.0.0.0/8"],
        io.io,
      );
      assert.equal(code, EXIT_FAILURE);
      assert.equal(io.stdout(), "");
      assert.match(io.stderr(), /^error: HTTP 400: .*\/8.*\n$/);
    });
    await t.step("a wrong token: 1, with the node's 401", async () => {
      const wrong = join(dir, "wrong.token");
      await Deno.writeTextFile(wrong, "not-the-token\n");
      const io = capture();
      const code = await run(["admin", "--url", url, "--token-file", wrong, "bans"], io.io);
      assert.equal(code, EXIT_FAILURE);
      assert.match(io.stderr(), /^error: HTTP 401: /);
    });
    await t.step("an empty token file: 1, naming the file, without calling", async () => {
      const empty = join(dir, "empty.token");
      await Deno.writeTextFile(empty, "\n");
      const io = capture();
      const code = await run(["admin", "--url", url, "--token-file", empty, "bans"], io.io);
      assert.equal(code, EXIT_FAILURE);
      assert.equal(io.stderr(), `error: Token file '${empty}' is empty\n`);
    });
    await t.step("a --url that is not a URL or HOST:PORT: 2, without calling", async () => {
      const io = capture();
      const code = await run(["admin", "--url", "ftp://127.0.0.1/x", "bans"], io.io);
      assert.equal(code, EXIT_USAGE);
      assert.match(io.stderr(), /^error: --url must be .*: got 'ftp:\/\/127\.0\.0\.1\/x'\n$/);
    });
  });
});
