import assert from "node:assert/strict";
import { type BanFs, denoBanFs } from "./ban_fs.ts";
import { type BanEvent, BanList } from "./ban_list.ts";
import { ManualClock } from "../clock/mod.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-bans-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("BanList bans peers and CIDRs and unbans them", () => {
  const clock = new ManualClock();
  const bans = new BanList({ clock });
  const now = clock.nowMs();
  bans.ban({ kind: "peer", value: "12D3KooWA", reason: "spam" });
  bans.ban({ kind: "cidr", value: "198.51.100.9/24" });
  bans.ban({ kind: "cidr", value: "2001:db8::7" });
  assert.equal(bans.isPeerBanned("12D3KooWA", now), true);
  assert.equal(bans.isPeerBanned("12D3KooWB", now), false);
  assert.equal(bans.isIpBanned("198.51.100.200", now), true);
  assert.equal(bans.isIpBanned("::ffff:198.51.100.1", now), true);
  assert.equal(bans.isIpBanned("198.51.101.1", now), false);
  assert.equal(bans.isIpBanned("2001:db8::7", now), true);
  assert.equal(bans.ipBan("198.51.100.1", now)?.value, "198.51.100.0/24");
  assert.equal(bans.peerBan("12D3KooWA", now)?.reason, "spam");
  assert.deepEqual(bans.list(now).map((b) => b.value), [
    "12D3KooWA",
    "198.51.100.0/24",
    "2001:db8::7/128",
  ]);
  assert.equal(bans.unban("cidr", "198.51.100.0/24"), true);
  assert.equal(bans.unban("cidr", "198.51.100.0/24"), false);
  assert.equal(bans.unban("peer", "12D3KooWA"), true);
  assert.equal(bans.isIpBanned("198.51.100.200", now), false);
  assert.equal(bans.isPeerBanned("12D3KooWA", now), false);
  assert.equal(bans.size(now), 1);
});

Deno.test("BanList drops expired bans on access and on sweep()", () => {
  const clock = new ManualClock(1_000);
  const bans = new BanList({ clock });
  const events: BanEvent[] = [];
  bans.onChange((event) => events.push(event));
  bans.ban({ kind: "peer", value: "p", expiresAtMs: 2_000 });
  bans.ban({ kind: "cidr", value: "10.0.0.0/8", expiresAtMs: 3_000 });
  bans.ban({ kind: "peer", value: "forever" });
  assert.equal(bans.isPeerBanned("p", 1_999), true);
  assert.equal(bans.isPeerBanned("p", 2_000), false);
  assert.equal(bans.isIpBanned("10.1.1.1", 2_500), true);
  assert.equal(bans.sweep(3_000), 1);
  assert.equal(bans.isIpBanned("10.1.1.1", 3_000), false);
  assert.equal(bans.hasIpBans, false);
  assert.deepEqual(bans.list(10_000_000).map((b) => b.value), ["forever"]);
  assert.deepEqual(events.map((e) => `${e.type}:${e.ban.value}`), [
    "ban:p",
    "ban:10.0.0.0/8",
    "ban:forever",
    "expire:p",
    "expire:10.0.0.0/8",
  ]);
});

Deno.test("BanList.onBan() hears new bans; a throwing listener is reported, not thrown", () => {
  const clock = new ManualClock();
  const warnings: string[] = [];
  const bans = new BanList({ clock, onWarning: (m) => warnings.push(m) });
  const heard: string[] = [];
  const off = bans.onBan((ban) => heard.push(ban.value));
  bans.onBan(() => {
    throw new Error("boom");
  });
  bans.ban({ kind: "peer", value: "a" });
  bans.unban("peer", "a");
  off();
  bans.ban({ kind: "peer", value: "b" });
  assert.deepEqual(heard, ["a"]);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /boom/);
  assert.equal(bans.isPeerBanned("b", clock.nowMs()), true);
});

Deno.test("BanList.ban() refuses bad input with a RangeError naming it", () => {
  const bans = new BanList({ clock: new ManualClock() });
  assert.throws(() => bans.ban({ kind: "cidr", value: "10.0.0.0/40" }), /10\.0\.0\.0\/40/);
  assert.throws(() => bans.ban({ kind: "peer", value: "" }), RangeError);
  assert.throws(() => bans.ban({ kind: "peer", value: "x", expiresAtMs: NaN }), /expiresAtMs/);
  assert.throws(() => bans.ban({ kind: "ip" as "peer", value: "x" }), /kind/);
});

Deno.test("BanList saves atomically to <dataDir>/bans.json and loads it back", async () => {
  await withTempDir(async (dir) => {
    const clock = new ManualClock(5_000);
    const real = denoBanFs();
    const calls: string[] = [];
    const fs: BanFs = {
      ...real,
      writeTextFileSynced: (path, data) => {
        calls.push(`write ${path.replace(dir, "")}`);
        return real.writeTextFileSynced(path, data);
      },
      rename: (from, to) => {
        calls.push(`rename ${from.replace(dir, "")} ${to.replace(dir, "")}`);
        return real.rename(from, to);
      },
      readDir: (path) => real.readDir(path),
      syncDir: (path) => {
        calls.push(`sync ${path.replace(dir, "") || "dir"}`);
        return real.syncDir(path);
      },
    };
    const bans = new BanList({ clock, fs, dataDir: dir });
    assert.deepEqual(await bans.load(), { loaded: 0, expired: 0 });
    bans.ban({ kind: "peer", value: "12D3KooWA", reason: "abuse", expiresAtMs: 100_000 });
    bans.ban({ kind: "cidr", value: "192.0.2.0/24" });
    await bans.flush();
    // Temporary file in the same directory, fsynced by write, renamed over, directory synced.
    assert.equal(calls.length, 3);
    assert.match(calls[0]!, /^write \/bans\.json\.tmp-/);
    assert.equal(calls[1], `rename ${calls[0]!.slice(6)} /bans.json`);
    assert.equal(calls[2], "sync dir");
    assert.deepEqual(await entries(dir), ["bans.json"]); // no temporary file left behind
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/bans.json`));
    assert.equal(doc.version, 1);
    assert.deepEqual(doc.bans[0], {
      kind: "peer",
      value: "12D3KooWA",
      createdAtMs: 5_000,
      reason: "abuse",
      expiresAtMs: 100_000,
    });
    const again = new BanList({ clock, fs: denoBanFs(), dataDir: dir });
    assert.deepEqual(await again.load(), { loaded: 2, expired: 0 });
    assert.equal(again.isPeerBanned("12D3KooWA", clock.nowMs()), true);
    assert.equal(again.isIpBanned("192.0.2.9", clock.nowMs()), true);
    assert.equal(again.peerBan("12D3KooWA", clock.nowMs())?.createdAtMs, 5_000);
  });
});

Deno.test("BanList.load() drops bans that expired while the node was down and rewrites the file", async () => {
  await withTempDir(async (dir) => {
    const clock = new ManualClock(1_000);
    const bans = new BanList({ clock, fs: denoBanFs(), dataDir: dir });
    bans.ban({ kind: "peer", value: "short", expiresAtMs: 2_000 });
    bans.ban({ kind: "peer", value: "long", expiresAtMs: 9_000 });
    await bans.flush();
    clock.setWallMs(5_000);
    const later = new BanList({ clock, fs: denoBanFs(), dataDir: dir });
    assert.deepEqual(await later.load(), { loaded: 1, expired: 1 });
    assert.deepEqual(later.list().map((b) => b.value), ["long"]);
    const doc = JSON.parse(await Deno.readTextFile(`${dir}/bans.json`));
    assert.deepEqual(doc.bans.map((b: { value: string }) => b.value), ["long"]);
  });
});

Deno.test("BanList.load() moves a corrupt file aside and returns a warning", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bans.json`, "{ not json");
    const clock = new ManualClock(42_000);
    const bans = new BanList({ clock, fs: denoBanFs(), dataDir: dir });
    const result = await bans.load();
    assert.equal(result.loaded, 0);
    assert.match(result.warning ?? "", /corrupt.*bans\.json\.corrupt-42000/);
    assert.deepEqual(await entries(dir), ["bans.json.corrupt-42000"]);
    assert.equal(await Deno.readTextFile(`${dir}/bans.json.corrupt-42000`), "{ not json");
    // The list still works and saves afresh.
    bans.ban({ kind: "peer", value: "p" });
    await bans.flush();
    assert.deepEqual(await entries(dir), ["bans.json", "bans.json.corrupt-42000"]);
  });
});

Deno.test("BanList.load() keeps valid entries of a damaged file and sets the original aside", async () => {
  await withTempDir(async (dir) => {
    const doc = {
      version: 1,
      bans: [
        { kind: "peer", value: "good", createdAtMs: 1 },
        { kind: "cidr", value: "999.0.0.0/8", createdAtMs: 1 },
        "garbage",
      ],
    };
    await Deno.writeTextFile(`${dir}/bans.json`, JSON.stringify(doc));
    const bans = new BanList({ clock: new ManualClock(7), fs: denoBanFs(), dataDir: dir });
    const result = await bans.load();
    assert.equal(result.loaded, 1);
    assert.match(result.warning ?? "", /2 invalid entries skipped/);
    assert.deepEqual(await entries(dir), ["bans.json", "bans.json.corrupt-7"]);
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/bans.json`));
    assert.deepEqual(saved.bans.map((b: { value: string }) => b.value), ["good"]);
  });
});

Deno.test("BanList.load() of an unreadable path reports a warning and never throws", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/bans.json`); // reading a directory fails
    const bans = new BanList({ clock: new ManualClock(9), fs: denoBanFs(), dataDir: dir });
    const result = await bans.load();
    assert.match(result.warning ?? "", /unreadable/);
    assert.deepEqual(await entries(dir), ["bans.json.corrupt-9"]);
  });
});

Deno.test("BanList.save() failure is a warning value, and automatic saves report it", async () => {
  const warnings: string[] = [];
  const fs: BanFs = {
    readTextFile: () => Promise.resolve(undefined),
    writeTextFileSynced: () => Promise.reject(new Error("disk full")),
    rename: () => Promise.resolve(),
    remove: () => Promise.resolve(),
    syncDir: () => Promise.resolve(),
    readDir: () => Promise.resolve([]),
  };
  const bans = new BanList({
    clock: new ManualClock(),
    fs,
    dataDir: "/x",
    onWarning: (m) => warnings.push(m),
  });
  bans.ban({ kind: "peer", value: "p" });
  const result = await bans.save();
  await bans.flush();
  assert.equal(result.ok, false);
  assert.match(result.warning ?? "", /disk full/);
  assert.ok(warnings.some((w) => w.includes("disk full")));
});

Deno.test("BanList saves are serialized and coalesced: a burst of bans writes at most twice", async () => {
  const writes: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const files = new Map<string, string>();
  // The first write stays in flight until the late bans are in (an event, not a sleep).
  const { promise: lateBanned, resolve: onLateBanned } = Promise.withResolvers<void>();
  const fs: BanFs = {
    readTextFile: (path) => Promise.resolve(files.get(path)),
    async writeTextFileSynced(path, data) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await lateBanned;
      files.set(path, data);
      writes.push(data);
      inFlight--;
    },
    rename(from, to) {
      files.set(to, files.get(from)!);
      files.delete(from);
      return Promise.resolve();
    },
    remove: () => Promise.resolve(),
    syncDir: () => Promise.resolve(),
    readDir: () => Promise.resolve([]),
  };
  const bans = new BanList({ clock: new ManualClock(), fs, dataDir: "/data" });
  for (let i = 0; i < 100; i++) bans.ban({ kind: "peer", value: `p${i}` });
  await Promise.resolve();
  await Promise.resolve();
  // This ban lands while the first write is in flight: it needs (and gets) one more write.
  bans.ban({ kind: "peer", value: "late" });
  for (let i = 0; i < 10; i++) bans.ban({ kind: "peer", value: `late${i}` });
  onLateBanned();
  await bans.flush();
  assert.equal(maxInFlight, 1);
  assert.equal(writes.length, 2);
  const last = JSON.parse(files.get("/data/bans.json")!);
  assert.equal(last.bans.length, 111);
  assert.deepEqual([...files.keys()], ["/data/bans.json"]);
});

Deno.test("ban() with ttlMs expires exactly ttlMs after its createdAtMs", () => {
  // A clock that ticks on every reading: the expiry must come from the same reading.
  const clock = new (class extends ManualClock {
    override nowMs(): number {
      const now = super.nowMs();
      this.advance(1);
      return now;
    }
  })(1_000);
  const list = new BanList({ clock });
  const ban = list.ban({ kind: "cidr", value: "192.0.2.0/24", ttlMs: 2_000 });
  assert.equal(ban.expiresAtMs! - ban.createdAtMs, 2_000);
  assert.throws(
    () => list.ban({ kind: "cidr", value: "192.0.2.0/24", ttlMs: Number.NaN }),
    /'expiresAtMs' must be a finite number/,
  );
});

// Issue 15, item 8: an interrupted save (kill -9 between the write and the rename) leaves
// bans.json.tmp-* behind; nothing removed them.
Deno.test("BanList.load() removes the temporary files interrupted saves left", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/bans.json.tmp-3-abcdefgh`, '{"version":1,"ba');
    await Deno.writeTextFile(`${dir}/bans.json.tmp-9-zz`, "");
    await Deno.writeTextFile(`${dir}/identity.key`, "keep");
    await Deno.writeTextFile(`${dir}/bans.json`, '{"version":1,"bans":[]}');
    const bans = new BanList({ clock: new ManualClock(), fs: denoBanFs(), dataDir: dir });
    const result = await bans.load();
    assert.equal(result.strayRemoved, 2);
    assert.deepEqual(await entries(dir), ["bans.json", "identity.key"]);
    assert.equal((await bans.load()).strayRemoved, undefined);
  });
});

Deno.test("BanList remembers a failed save until one succeeds, warning once per distinct failure", async () => {
  const warnings: string[] = [];
  let failure: string | undefined = "read-only file system";
  const fs: BanFs = {
    readTextFile: () => Promise.resolve(undefined),
    writeTextFileSynced: () =>
      failure === undefined ? Promise.resolve() : Promise.reject(new Error(failure)),
    rename: () => Promise.resolve(),
    remove: () => Promise.resolve(),
    syncDir: () => Promise.resolve(),
    readDir: () => Promise.resolve([]),
  };
  const bans = new BanList({
    clock: new ManualClock(),
    fs,
    dataDir: "/x",
    onWarning: (m) => warnings.push(m),
  });
  assert.equal(bans.saveError, undefined);
  bans.ban({ kind: "peer", value: "a" });
  assert.equal((await bans.save()).ok, false);
  bans.ban({ kind: "peer", value: "b" });
  assert.equal((await bans.save()).ok, false);
  assert.match(bans.saveError ?? "", /read-only file system/);
  assert.equal(bans.saveFailures, 2);
  assert.equal(warnings.length, 1, warnings.join("\n"));
  failure = undefined;
  assert.equal((await bans.save()).ok, true);
  assert.equal(bans.saveError, undefined);
  assert.equal(bans.saveFailures, 2);
  assert.match(warnings.at(-1)!, /saved again/);
});
