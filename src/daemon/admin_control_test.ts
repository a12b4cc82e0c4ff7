import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { UnavailableError } from "../errors.ts";
import { type BanFs, BanList } from "../ratelimit/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { adminControl } from "./admin_control.ts";
import { ManualClock } from "../clock/mod.ts";

/** A file system whose writes wait for `release()` and fail while `failure` is set. */
function gatedFs() {
  const files = new Map<string, string>();
  const gate = Promise.withResolvers<void>();
  const state = { failure: undefined as string | undefined };
  const writing = Promise.withResolvers<void>();
  const fs: BanFs = {
    readTextFile: (path) => Promise.resolve(files.get(path)),
    async writeTextFileSynced(path, data) {
      writing.resolve();
      await gate.promise;
      if (state.failure !== undefined) throw new Error(state.failure);
      files.set(path, data);
    },
    rename(from, to) {
      files.set(to, files.get(from)!);
      files.delete(from);
      return Promise.resolve();
    },
    remove: (path) => Promise.resolve(void files.delete(path)),
    syncDir: () => Promise.resolve(),
    readDir: () => Promise.resolve([]),
  };
  return {
    fs,
    state,
    /** Resolves when the first write has started. */
    writing: writing.promise,
    release: () => gate.resolve(),
    saved: () =>
      JSON.parse(files.get("/data/bans.json") ?? '{"bans":[]}').bans as {
        value: string;
      }[],
  };
}

function control(bans: BanList) {
  // Bans touch neither the host nor the relay.
  return adminControl({
    libp2p: {} as Libp2p,
    relay: {} as Relay,
    bans,
    banWidth: () => ({ prefixMinV4: 16, prefixMinV6: 32 }),
    setDraining: () => {},
  });
}

// Issue 15, item 8: a ban answered 201 before it was on disk (kill -9 lost 23 of 6,407), and a
// failed write answered 201 too.
Deno.test("adminControl.ban() resolves only once the ban is on disk", async () => {
  const disk = gatedFs();
  const bans = new BanList({ clock: new ManualClock(1_000), fs: disk.fs, dataDir: "/data" });
  let answered = false;
  const pending = control(bans).ban({ cidr: "203.0.113.0/24" }).then((view) => {
    answered = true;
    return view;
  });
  await disk.writing;
  await Promise.resolve();
  assert.equal(answered, false, "answered before the write finished");
  assert.ok(bans.isIpBanned("203.0.113.9", 1_000), "in force at once");
  disk.release();
  assert.equal((await pending).target, "203.0.113.0/24");
  assert.deepEqual(disk.saved().map((b) => b.value), ["203.0.113.0/24"]);
});

Deno.test("adminControl.ban() and unban() throw BANS_NOT_SAVED when the write fails", async () => {
  const disk = gatedFs();
  disk.release();
  disk.state.failure = "read-only file system";
  const bans = new BanList({ clock: new ManualClock(1_000), fs: disk.fs, dataDir: "/data" });
  const admin = control(bans);
  await assert.rejects(
    admin.ban({ cidr: "198.51.100.0/24" }),
    (error: unknown) =>
      error instanceof UnavailableError && error.code === "BANS_NOT_SAVED" &&
      /in force but not saved.*read-only file system/.test(error.message),
  );
  assert.ok(bans.isIpBanned("198.51.100.1", 1_000), "the ban still protects");
  await assert.rejects(admin.unban("198.51.100.0/24"), UnavailableError);
  disk.state.failure = undefined;
  assert.equal((await admin.ban({ cidr: "192.0.2.0/24" })).target, "192.0.2.0/24");
  assert.equal(bans.saveError, undefined);
});

// Issue 15, item 5: a CIDR ban wider than limits.ban_prefix_min_v4/_v6 needs an explicit force.
Deno.test("adminControl.ban() refuses a CIDR wider than the limits unless forced", async () => {
  const disk = gatedFs();
  disk.release();
  const bans = new BanList({ clock: new ManualClock(1_000), fs: disk.fs, dataDir: "/data" });
  const admin = control(bans);
  for (const cidr of ["127.0.0.0/8", "0.0.0.0/0", "2001::/16"]) {
    await assert.rejects(
      admin.ban({ cidr }),
      (error: unknown) =>
        error instanceof RangeError && /wider than a \/(16|32).*"force": true/.test(error.message),
      cidr,
    );
  }
  assert.equal(bans.size(1_000), 0);
  assert.equal((await admin.ban({ cidr: "10.1.0.0/16" })).target, "10.1.0.0/16");
  assert.equal((await admin.ban({ cidr: "127.0.0.0/8", force: true })).target, "127.0.0.0/8");
  assert.equal(bans.size(1_000), 2);
});
