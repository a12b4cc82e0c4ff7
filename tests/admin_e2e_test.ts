// End-to-end bans and admin API: the real hopd program driven by the real `hopd admin` CLI
// over its ops HTTP server, with stock js-libp2p clients as the banned and spared parties.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type HopdProcess, runHopdCli, spawnHopd } from "./_helpers/hopd_process.ts";
import { DUAL_STACK_LISTEN, logsOf, metric, tcpAddr } from "./_helpers/ops_probe.ts";
import {
  canReserve,
  disconnectedFrom,
  isConnectedTo,
  newIdentity,
  reserveOn,
} from "./_helpers/reserving_client.ts";

/** Runs `hopd admin --url <hopd> …args`; stdout parsed as JSON on success. */
async function admin(hopd: HopdProcess, args: string[], env: Record<string, string> = {}) {
  const result = await runHopdCli(["admin", "--url", hopd.opsUrl, ...args], env);
  let json: unknown;
  if (result.code === 0) json = JSON.parse(result.stdout);
  return { ...result, json };
}

/** The audit log lines of `action` seen so far. */
function audited(hopd: HopdProcess, action: string): Record<string, unknown>[] {
  return logsOf(hopd.logs, "hopd.audit").filter((record) => isAudit(record, [action]));
}

function isAudit(record: Record<string, unknown>, actions: readonly string[]): boolean {
  return logsOf([record], "hopd.audit").length === 1 &&
    actions.includes(String((record.properties as Record<string, unknown> | undefined)?.action));
}

/** Waits for hopd's `count`-th audit line of one of `actions` (hopd's stderr: an event). */
async function auditLine(hopd: HopdProcess, actions: readonly string[], count: number) {
  let seen = 0;
  await hopd.waitForLog((record) => isAudit(record, actions) && ++seen === count);
}

Deno.test("hopd admin ban --peer closes the peer's connection and refuses it until unbanned", async (t) => {
  // No admin.token_file: loopback callers need no token. Debug: hopd logs a reservation's end.
  const hopd = await spawnHopd({ env: { HOPD_LOG_LEVEL: "debug" } });
  const relay = tcpAddr(hopd.listenAddrs, "ip4");
  const banned = await newIdentity();
  const node = await reserveOn(relay, banned.privateKey);
  try {
    assert.ok(node !== undefined, "the peer could not reserve before the ban");
    assert.ok(isConnectedTo(node, hopd.peerId));

    await t.step("the ban is made and audited", async () => {
      const result = await admin(hopd, ["ban", "--peer", banned.peerId, "--reason", "e2e"]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(
        { ...(result.json as Record<string, unknown>), createdAt: undefined },
        { kind: "peer", target: banned.peerId, reason: "e2e", createdAt: undefined },
      );
      await auditLine(hopd, ["ban"], 1);
      assert.equal(audited(hopd, "ban").length, 1);
    });

    await t.step("its connection is closed promptly and its reservation goes", async () => {
      assert.ok(await disconnectedFrom(node, hopd.peerId), "still connected after the ban");
      // hopd logs (at debug) the end of a reservation whose connection closed, once removed.
      await hopd.waitForLog((r) =>
        String(r.message).startsWith("Reservation of ") &&
        (r.properties as { peer?: unknown } | undefined)?.peer === banned.peerId
      );
      assert.equal(await metric(hopd.opsUrl, "hopd_reservations_active"), 0);
    });

    await t.step("it can neither reconnect nor reserve while banned", async () => {
      assert.equal(await canReserve(relay, banned.privateKey), false);
      assert.ok(
        (await metric(hopd.opsUrl, "hopd_rate_limited_total", {
          limiter: "peer",
          reason: "banned",
        })) >= 1,
        "the refusal after the handshake was not counted",
      );
      assert.equal(await metric(hopd.opsUrl, "hopd_bans_active"), 1);
    });

    await t.step("other peers still reserve", async () => {
      assert.equal(await canReserve(relay), true);
    });

    await t.step("after hopd admin unban it reserves again", async () => {
      const result = await admin(hopd, ["unban", banned.peerId]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.json, { removed: true, target: banned.peerId });
      assert.equal(await canReserve(relay, banned.privateKey), true);
      assert.equal((await admin(hopd, ["unban", banned.peerId])).code, 1, "a second unban is 404");
      await auditLine(hopd, ["unban"], 2);
      assert.equal(audited(hopd, "unban").length, 2);
    });
  } finally {
    await node?.stop();
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("a CIDR ban on ::1/128 closes and refuses IPv6 clients while 127.0.0.1 clients still reserve", async () => {
  const hopd = await spawnHopd({ loopbackListeners: false, args: DUAL_STACK_LISTEN });
  const v6 = tcpAddr(hopd.listenAddrs, "ip6");
  const v4 = tcpAddr(hopd.listenAddrs, "ip4");
  const node = await reserveOn(v6);
  try {
    assert.ok(node !== undefined, "the IPv6 client could not reserve before the ban");
    const result = await admin(hopd, ["ban", "--cidr", "::1/128", "--reason", "e2e"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((result.json as { target: string }).target, "::1/128");

    assert.ok(
      await disconnectedFrom(node, hopd.peerId),
      "the IPv6 client is still connected after the ban",
    );
    assert.equal(await canReserve(v6), false, "a new IPv6 client reserved despite the ban");
    assert.ok(
      (await metric(hopd.opsUrl, "hopd_rate_limited_total", {
        limiter: "connection",
        reason: "banned",
      })) >= 1,
      "the IP ban did not refuse the connection before the handshake",
    );
    assert.equal(await canReserve(v4), true, "the IPv4 client was refused");

    const bans = await admin(hopd, ["bans"]);
    assert.equal(bans.code, 0, bans.stderr);
    assert.deepEqual(
      (bans.json as { items: { kind: string; target: string }[] }).items.map((b) => [
        b.kind,
        b.target,
      ]),
      [["cidr", "::1/128"]],
    );
  } finally {
    await node?.stop();
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("hopd admin ban --ttl sets the expiry from the ban's own time and refuses the peer meanwhile", async () => {
  const hopd = await spawnHopd();
  const relay = tcpAddr(hopd.listenAddrs, "ip4");
  const peer = await newIdentity();
  try {
    const result = await admin(hopd, ["ban", "--peer", peer.peerId, "--ttl", "1h"]);
    assert.equal(result.code, 0, result.stderr);
    const { createdAt, expiresAt } = result.json as { createdAt: string; expiresAt: string };
    assert.equal(Date.parse(expiresAt) - Date.parse(createdAt), 3_600_000);
    // The expiry itself is covered on the node's ManualClock (src/daemon/node_test.ts), through
    // the same ops route: no test waits for a real TTL to pass.
    assert.equal(await canReserve(relay, peer.privateKey), false, "reserved while banned");
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});

Deno.test("bans survive a restart, and a corrupt bans.json is set aside with a warning", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-bans-" });
  const { peerId } = await newIdentity();
  try {
    await t.step("a permanent ban is written to <data_dir>/bans.json", async () => {
      const hopd = await spawnHopd({ dataDir });
      try {
        const result = await admin(hopd, ["ban", "--peer", peerId, "--reason", "kept"]);
        assert.equal(result.code, 0, result.stderr);
      } finally {
        assert.equal((await hopd.stop()).code, 0);
      }
      const file = JSON.parse(await Deno.readTextFile(join(dataDir, "bans.json")));
      assert.deepEqual(file.bans.map((b: { value: string }) => b.value), [peerId]);
    });

    await t.step("a new hopd on the same data dir still lists it", async () => {
      const hopd = await spawnHopd({ dataDir });
      try {
        const bans = await admin(hopd, ["bans"]);
        assert.equal(bans.code, 0, bans.stderr);
        const items = (bans.json as { items: { target: string; reason: string }[] }).items;
        assert.deepEqual(items.map((b) => [b.target, b.reason]), [[peerId, "kept"]]);
        assert.equal(await metric(hopd.opsUrl, "hopd_bans_active"), 1);
      } finally {
        assert.equal((await hopd.stop()).code, 0);
      }
    });

    await t.step("garbage in bans.json is moved aside and hopd starts with no bans", async () => {
      await Deno.writeTextFile(join(dataDir, "bans.json"), "{ not json \u0000 at all");
      const hopd = await spawnHopd({ dataDir });
      try {
        const ready = await fetch(`${hopd.opsUrl}/ready`);
        await ready.body?.cancel();
        assert.equal(ready.status, 200);
        const asides: string[] = [];
        for await (const entry of Deno.readDir(dataDir)) {
          if (entry.name.startsWith("bans.json.corrupt-")) asides.push(entry.name);
        }
        assert.equal(asides.length, 1, `set-aside files: ${asides.join(", ")}`);
        assert.equal(
          await Deno.readTextFile(join(dataDir, asides[0]!)),
          "{ not json \u0000 at all",
        );
        const warnings = hopd.logs.filter((record) =>
          record.level === "WARN" && String(record.message).includes(asides[0]!)
        );
        assert.equal(warnings.length, 1, "no warning names the set-aside file");
        const bans = await admin(hopd, ["bans"]);
        assert.equal((bans.json as { total: number }).total, 0);
      } finally {
        assert.equal((await hopd.stop()).code, 0);
      }
    });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("the admin API needs the bearer token from admin.token_file, and drain/resume flip /ready", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-admin-" });
  const tokenFile = join(dir, "token");
  const wrongFile = join(dir, "wrong");
  await Deno.writeTextFile(tokenFile, "e2e-admin-token-0123456789abcdef\n", { mode: 0o600 });
  await Deno.writeTextFile(wrongFile, "not-the-admin-token-0123456789\n", { mode: 0o600 });
  const hopd = await spawnHopd({ env: { HOPD_ADMIN_TOKEN_FILE: tokenFile } });
  try {
    await t.step("the HTTP server answers 401 with hopd's JSON error", async () => {
      for (const authorization of [undefined, "Bearer not-the-admin-token-0123456789"]) {
        const response = await fetch(`${hopd.opsUrl}/v1/admin/bans`, {
          headers: authorization === undefined ? {} : { authorization },
        });
        assert.equal(response.status, 401);
        assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer /);
        assert.equal((await response.json()).error.code, "UNAUTHORIZED");
      }
    });

    const cases = [
      { name: "no token", args: [], code: 1, stderr: /HTTP 401: Missing bearer token/ },
      {
        name: "a wrong token",
        args: ["--token-file", wrongFile],
        code: 1,
        stderr: /HTTP 401: Invalid bearer token/,
      },
      { name: "the right token", args: ["--token-file", tokenFile], code: 0 },
    ];
    for (const c of cases) {
      await t.step(`hopd admin bans with ${c.name} exits ${c.code}`, async () => {
        const result = await admin(hopd, [...c.args, "bans"]);
        assert.equal(result.code, c.code, result.stderr);
        if (c.stderr !== undefined) assert.match(result.stderr, c.stderr);
        else assert.deepEqual(result.json, { total: 0, offset: 0, limit: 100, items: [] });
      });
    }

    await t.step("drain turns /ready 503 and resume turns it back to 200", async () => {
      const auth = ["--token-file", tokenFile];
      const drain = await admin(hopd, [...auth, "drain"]);
      assert.equal(drain.code, 0, drain.stderr);
      assert.deepEqual(drain.json, { draining: true });
      let ready = await fetch(`${hopd.opsUrl}/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual((await ready.json()).reasons, ["node is draining"]);

      // The token may also come from the environment, as under systemd.
      const resume = await admin(hopd, ["resume"], { HOPD_ADMIN_TOKEN_FILE: tokenFile });
      assert.equal(resume.code, 0, resume.stderr);
      ready = await fetch(`${hopd.opsUrl}/ready`);
      await ready.body?.cancel();
      assert.equal(ready.status, 200);
    });

    await t.step("every admin action and every refusal leaves a hopd.audit line", async () => {
      await auditLine(hopd, ["drain", "resume"], 2);
      const refusals = logsOf(hopd.logs, "hopd.audit").filter((record) =>
        String(record.message).includes("refused")
      );
      // Two fetches and two CLI calls above were refused.
      assert.equal(refusals.length, 4);
      for (const record of audited(hopd, "drain")) {
        assert.equal((record.properties as { ip: string }).ip, "127.0.0.1");
      }
    });
  } finally {
    assert.equal((await hopd.stop()).code, 0);
    await Deno.remove(dir, { recursive: true });
  }
});

/** POSTs a CIDR ban straight to the admin API (loopback, no token): the status and error code. */
async function postBan(
  hopd: HopdProcess,
  cidr: string,
): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${hopd.opsUrl}/v1/admin/bans`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ cidr }),
  });
  const body = await response.json();
  return { status: response.status, code: body?.error?.code };
}

/** The targets in <dataDir>/bans.json (none when there is no file). */
async function savedBans(dataDir: string): Promise<Set<string>> {
  const text = await Deno.readTextFile(join(dataDir, "bans.json")).catch(() => '{"bans":[]}');
  return new Set(JSON.parse(text).bans.map((b: { value: string }) => b.value));
}

// Issue 15, item 8: a ban answered 201 before it was on disk: kill -9 during a ban loop lost 23
// of 6,407 acknowledged bans.
Deno.test("a ban is acknowledged only once on disk: kill -9 right after the answers loses none", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-bans-kill-" });
  try {
    for (let round = 0; round < 3; round++) {
      const hopd = await spawnHopd({ dataDir });
      const targets = Array.from({ length: 40 }, (_, i) => `10.${round}.${i}.0/24`);
      const answers = await Promise.all(targets.map((cidr) => postBan(hopd, cidr)));
      // At once, before any write the answers did not wait for could finish. The hopd process
      // itself (its pid is in its start line), not the `deno task` wrapper.
      const started = hopd.logs.find((r) => String(r.message).startsWith("hopd "));
      Deno.kill(Number((started?.properties as { pid?: number }).pid), "SIGKILL");
      await hopd.status;
      const acknowledged = targets.filter((_, i) => answers[i]!.status === 201);
      assert.equal(acknowledged.length, targets.length, JSON.stringify(answers));
      const saved = await savedBans(dataDir);
      const lost = acknowledged.filter((cidr) => !saved.has(cidr));
      assert.deepEqual(lost, [], `round ${round}: ${lost.length} acknowledged bans lost`);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("bans that cannot be saved answer 503, are counted and turn /ready 503 until saved", async (t) => {
  const dataDir = await Deno.makeTempDir({ prefix: "hopd-bans-ro-" });
  // A crash between the write and the rename left this behind.
  await Deno.writeTextFile(join(dataDir, "bans.json.tmp-7-deadbeef"), '{"version":1');
  const hopd = await spawnHopd({ dataDir });
  const ready = async () => {
    const response = await fetch(`${hopd.opsUrl}/ready`);
    return { status: response.status, body: await response.json() };
  };
  try {
    await t.step("the stray temporary file is gone at start", async () => {
      await assert.rejects(Deno.stat(join(dataDir, "bans.json.tmp-7-deadbeef")));
      assert.equal((await ready()).status, 200);
    });
    await t.step("a ban that cannot be written answers 503 BANS_NOT_SAVED", async () => {
      // Root ignores a read-only mode; a directory in bans.json's place fails the rename for
      // anyone, as a read-only or full data dir does.
      await Deno.mkdir(join(dataDir, "bans.json", "in-the-way"), { recursive: true });
      assert.deepEqual(await postBan(hopd, "198.51.100.0/24"), {
        status: 503,
        code: "BANS_NOT_SAVED",
      });
      assert.ok(await metric(hopd.opsUrl, "hopd_bans_save_failures_total") >= 1);
      const { status, body } = await ready();
      assert.equal(status, 503);
      assert.ok(
        body.reasons.some((r: string) => r.startsWith("bans cannot be saved")),
        JSON.stringify(body),
      );
      // In force all the same.
      const bans = await admin(hopd, ["bans"]);
      assert.deepEqual(
        (bans.json as { items: { target: string }[] }).items.map((b) => b.target),
        ["198.51.100.0/24"],
      );
    });
    await t.step(
      "once the data dir takes writes again, the next ban saves both and /ready is 200",
      async () => {
        await Deno.remove(join(dataDir, "bans.json"), { recursive: true });
        assert.equal((await postBan(hopd, "192.0.2.0/24")).status, 201);
        assert.deepEqual(await savedBans(dataDir), new Set(["198.51.100.0/24", "192.0.2.0/24"]));
        assert.equal((await ready()).status, 200);
      },
    );
  } finally {
    await hopd.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

// Issue 15, item 5: after a ban on 127.0.0.0/8 the operator's unban from loopback answered 429.
Deno.test("a ban on all of loopback needs --force, cuts loopback peers, and never the operator", async (t) => {
  const hopd = await spawnHopd();
  const relay = tcpAddr(hopd.listenAddrs, "ip4");
  try {
    await t.step("wider than a /16 without --force: refused, naming the way", async () => {
      const result = await admin(hopd, ["ban", "--cidr", "127.0.0.0/8"]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /wider than a \/16.*"force": true/);
    });
    await t.step("with --force it is made and refuses loopback peers", async () => {
      const result = await admin(hopd, ["ban", "--cidr", "127.0.0.0/8", "--force"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await canReserve(relay), false, "a loopback peer reserved despite the ban");
      const forced = audited(hopd, "ban").at(-1)?.properties as Record<string, unknown>;
      assert.equal((forced.fields as Record<string, unknown>).force, true);
    });
    await t.step("the operator on loopback still lists and lifts it", async () => {
      const bans = await admin(hopd, ["bans"]);
      assert.equal(bans.code, 0, bans.stderr);
      const status = await fetch(`${hopd.opsUrl}/v1/status`);
      assert.equal(status.status, 200);
      await status.body?.cancel();
      const unban = await admin(hopd, ["unban", "127.0.0.0/8"]);
      assert.equal(unban.code, 0, unban.stderr);
      assert.equal(await canReserve(relay), true, "a loopback peer is still refused");
    });
  } finally {
    assert.equal((await hopd.stop()).code, 0);
  }
});
