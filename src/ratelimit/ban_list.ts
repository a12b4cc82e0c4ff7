/**
 * Bans on peer IDs and CIDR blocks, each with an optional expiry, kept in memory for fast
 * checks and persisted to `<dataDir>/bans.json`.
 *
 * Expired bans drop out on their own: every check first sweeps when the earliest expiry has
 * passed, and `sweep(nowMs)` does it on demand. Listeners hear every ban, unban and expiry,
 * so the daemon can close a newly banned party's connections.
 *
 * Persistence is crash-safe and never throws: a save writes a temporary file in the same
 * directory, fsyncs it, renames it over `bans.json` and fsyncs the directory; saves are
 * serialized and coalesced (a burst of bans writes once, and a ban made during a write is
 * written right after it). `await save()` after a change resolves once that change is on
 * disk (the admin API answers only then). A failed save is remembered (`saveError`, counted
 * in `saveFailures`) until a later save succeeds. A corrupt or unreadable file is moved aside
 * to `bans.json.corrupt-<ms>` and reported as a warning value for the caller to log;
 * temporary files a crash left behind are removed by `load()`.
 *
 * @module
 */

import {
  type BanFile,
  decodeBans,
  encodeBans,
  errorText,
  setAside,
  validateBan,
  writeAtomic,
} from "./_ban_file.ts";
import type { BanFs } from "./ban_fs.ts";
import { CidrSet, parseCidr } from "./cidr_set.ts";
import { BANS_FILE_NAME } from "./constants.ts";
import type { Clock } from "../clock/mod.ts";

/** What a ban targets. */
export type BanKind = "peer" | "cidr";

/** One ban. */
export interface Ban {
  /** A peer or a CIDR ban. */
  readonly kind: BanKind;
  /** Peer ID text, or canonical CIDR text (`"10.0.0.0/8"`; a bare IP becomes a /32 or /128). */
  readonly value: string;
  /** Why, as the operator or policy gave it. */
  readonly reason?: string;
  /** When the ban was made, ms since the epoch. */
  readonly createdAtMs: number;
  /** Wall-clock expiry; absent = permanent. */
  readonly expiresAtMs?: number;
}

/** What `ban()` takes. */
export interface BanInit {
  /** A peer or a CIDR ban. */
  readonly kind: BanKind;
  /** Peer ID, CIDR or bare IP. */
  readonly value: string;
  /** Why (shown in listings and logs). */
  readonly reason?: string;
  /** Wall-clock expiry in ms since the epoch; absent = permanent. */
  readonly expiresAtMs?: number;
  /**
   * Lifetime from the moment of the ban, instead of `expiresAtMs`: the expiry is then exactly
   * `createdAtMs + ttlMs` (one clock reading for both).
   */
  readonly ttlMs?: number;
}

/** A change to the list. */
export interface BanEvent {
  /** A ban was added, removed by a caller, or expired. */
  readonly type: "ban" | "unban" | "expire";
  /** The ban concerned. */
  readonly ban: Ban;
}

/** What the ban list needs. Without `fs` and `dataDir` it lives in memory only. */
export interface BanListComponents {
  /** Wall clock (ms since the epoch): expiries are persisted, so they must survive restarts. */
  readonly clock: Clock;
  /** File operations for `bans.json`. */
  readonly fs?: BanFs;
  /** Directory holding `bans.json` (must exist). */
  readonly dataDir?: string;
  /** Hears problems the list cannot return: failed automatic saves, throwing listeners. */
  readonly onWarning?: (message: string) => void;
}

/** Outcome of `load()`. */
export interface BanLoadResult {
  /** Bans now in the list from the file. */
  readonly loaded: number;
  /** Bans in the file that had already expired (dropped). */
  readonly expired: number;
  /** Set when the file was corrupt or unreadable (and moved aside when possible). */
  readonly warning?: string;
  /** Temporary files of interrupted saves (`bans.json.tmp-*`) removed. */
  readonly strayRemoved?: number;
}

/** Outcome of `save()`. */
export interface BanSaveResult {
  /** True when the file was written. */
  readonly ok: boolean;
  /** Why it was not, when it was not. */
  readonly warning?: string;
}

const NO_FILE: BanLoadResult = Object.freeze({ loaded: 0, expired: 0 });

/** Bans on peers and CIDR blocks with expiry, listeners and persistence. */
export class BanList {
  #clock: Clock;
  /** Where the list is persisted; absent = memory only. */
  readonly #file: BanFile | undefined;
  #onWarning: (message: string) => void;
  #peers = new Map<string, Ban>();
  #cidrBans = new Map<string, Ban>();
  #cidrs = new CidrSet();
  #nextExpiryMs = Infinity;
  #listeners = new Set<(event: BanEvent) => void>();
  #queued: Promise<BanSaveResult> | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #tmpCounter = 0;
  #saveError: string | undefined;
  #saveFailures = 0;

  /**
   * Creates an empty list; `load()` reads the saved bans.
   *
   * @param components Clock, and optionally the file system and data directory.
   * @example
   * ```ts
   * import { SYSTEM_CLOCK as clock } from "../clock/mod.ts";
   * import { BanList } from "./ban_list.ts";
   * const bans = new BanList({ clock });
   * bans.ban({ kind: "cidr", value: "198.51.100.0/24", reason: "scanner" });
   * bans.isIpBanned("198.51.100.7", clock.nowMs()); // true
   * ```
   */
  constructor(components: BanListComponents) {
    this.#clock = components.clock;
    const { fs, dataDir: dir } = components;
    this.#file = fs === undefined || dir === undefined
      ? undefined
      : { fs, dir, path: `${dir.replace(/\/+$/, "")}/${BANS_FILE_NAME}` };
    this.#onWarning = components.onWarning ?? (() => {});
  }

  /** Path of the persisted file, if persistent. */
  get path(): string | undefined {
    return this.#file?.path;
  }

  /** Why the last save failed; undefined once a save succeeded (or none failed). */
  get saveError(): string | undefined {
    return this.#saveError;
  }

  /** Saves that failed since start. */
  get saveFailures(): number {
    return this.#saveFailures;
  }

  /** Whether any CIDR ban exists (expired ones included until swept). */
  get hasIpBans(): boolean {
    return this.#cidrBans.size > 0;
  }

  /**
   * Adds a ban, or replaces the ban on the same target. Listeners hear it; the list is saved.
   *
   * @param init Target, reason and expiry.
   * @returns The ban as stored (CIDRs canonical).
   * @throws {RangeError} An empty peer ID, a bad CIDR or a non-finite expiry.
   */
  ban(init: BanInit): Ban {
    const nowMs = this.#clock.nowMs();
    const { ttlMs, ...rest } = init;
    const ban = validateBan(
      ttlMs === undefined ? rest : { ...rest, expiresAtMs: nowMs + ttlMs },
      nowMs,
    );
    if (typeof ban === "string") throw new RangeError(ban);
    this.#put(ban);
    this.#emit({ type: "ban", ban });
    this.#autoSave();
    return ban;
  }

  /**
   * Removes a ban.
   *
   * @param kind What it targets.
   * @param value Peer ID or CIDR (any spelling of the same block).
   * @returns Whether a ban was removed.
   * @throws {RangeError} A bad CIDR.
   */
  unban(kind: BanKind, value: string): boolean {
    const key = kind === "cidr" ? parseCidr(value).text : value;
    const map = kind === "cidr" ? this.#cidrBans : this.#peers;
    const ban = map.get(key);
    if (ban === undefined) return false;
    this.#drop(ban);
    this.#emit({ type: "unban", ban });
    this.#autoSave();
    return true;
  }

  /**
   * Whether a peer is banned.
   *
   * @param peerId Peer ID text.
   * @param nowMs Current wall-clock time.
   */
  isPeerBanned(peerId: string, nowMs: number): boolean {
    if (nowMs >= this.#nextExpiryMs) this.sweep(nowMs);
    return this.#peers.size > 0 && this.#peers.has(peerId);
  }

  /**
   * Whether an IP falls in a banned block. Text that is not an IP is never banned.
   *
   * @param ip The address.
   * @param nowMs Current wall-clock time.
   */
  isIpBanned(ip: string, nowMs: number): boolean {
    if (this.#cidrBans.size === 0) return false;
    if (nowMs >= this.#nextExpiryMs) this.sweep(nowMs);
    return this.#cidrs.has(ip);
  }

  /**
   * The ban covering a peer, if any.
   *
   * @param peerId Peer ID text.
   * @param nowMs Current wall-clock time.
   */
  peerBan(peerId: string, nowMs: number): Ban | undefined {
    if (nowMs >= this.#nextExpiryMs) this.sweep(nowMs);
    return this.#peers.get(peerId);
  }

  /**
   * The most specific ban covering an IP, if any.
   *
   * @param ip The address.
   * @param nowMs Current wall-clock time.
   */
  ipBan(ip: string, nowMs: number): Ban | undefined {
    if (nowMs >= this.#nextExpiryMs) this.sweep(nowMs);
    const block = this.#cidrs.match(ip);
    return block === undefined ? undefined : this.#cidrBans.get(block);
  }

  /**
   * The bans in force, peers first, each group in the order made.
   *
   * @param nowMs Current wall-clock time. @default clock.nowMs()
   */
  list(nowMs: number = this.#clock.nowMs()): Ban[] {
    this.sweep(nowMs);
    return [...this.#peers.values(), ...this.#cidrBans.values()];
  }

  /**
   * Number of bans in force.
   *
   * @param nowMs Current wall-clock time. @default clock.nowMs()
   */
  size(nowMs: number = this.#clock.nowMs()): number {
    if (nowMs >= this.#nextExpiryMs) this.sweep(nowMs);
    return this.#peers.size + this.#cidrBans.size;
  }

  /**
   * Drops expired bans; listeners hear each as `"expire"`; the list is saved if any dropped.
   *
   * @param nowMs Current wall-clock time.
   * @returns How many were dropped.
   */
  sweep(nowMs: number): number {
    if (nowMs < this.#nextExpiryMs) return 0;
    const expired: Ban[] = [];
    let next = Infinity;
    for (const map of [this.#peers, this.#cidrBans]) {
      for (const ban of map.values()) {
        const at = ban.expiresAtMs;
        if (at === undefined) continue;
        if (at <= nowMs) expired.push(ban);
        else if (at < next) next = at;
      }
    }
    for (const ban of expired) this.#drop(ban);
    this.#nextExpiryMs = next;
    for (const ban of expired) this.#emit({ type: "expire", ban });
    if (expired.length > 0) this.#autoSave();
    return expired.length;
  }

  /**
   * Listens for new bans (and re-bans of the same target).
   *
   * @param listener Called synchronously after the ban is in force.
   * @returns A function that removes the listener.
   */
  onBan(listener: (ban: Ban) => void): () => void {
    return this.onChange((event) => {
      if (event.type === "ban") listener(event.ban);
    });
  }

  /**
   * Listens for every change: bans, unbans and expiries.
   *
   * @param listener Called synchronously after the change.
   * @returns A function that removes the listener.
   */
  onChange(listener: (event: BanEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Replaces the list with `bans.json`. A missing file is an empty list; expired bans are
   * dropped; a file that is not valid JSON of the expected shape, or cannot be read, is moved
   * aside and reported (the list is then left as it was); single invalid entries are skipped,
   * the original file moved aside and the valid rest saved. Never throws. Listeners are not
   * called.
   *
   * @returns Counts, and a warning to log when the file was set aside.
   */
  async load(): Promise<BanLoadResult> {
    const file = this.#file;
    if (file === undefined) return NO_FILE;
    const stray = await removeStrayTemps(file.fs, file.dir);
    const result = await this.#loadFile(file);
    return stray === 0 ? result : { ...result, strayRemoved: stray };
  }

  async #loadFile(file: BanFile): Promise<BanLoadResult> {
    let text: string | undefined;
    try {
      text = await file.fs.readTextFile(file.path);
    } catch (error) {
      return {
        loaded: 0,
        expired: 0,
        warning: await this.#setAside(file, `unreadable: ${errorText(error)}`),
      };
    }
    if (text === undefined) return NO_FILE;
    const decoded = decodeBans(text, this.#clock.nowMs());
    if (typeof decoded === "string") {
      return { loaded: 0, expired: 0, warning: await this.#setAside(file, `corrupt: ${decoded}`) };
    }
    const { bans, invalid, expired } = decoded;
    this.#peers.clear();
    this.#cidrBans.clear();
    this.#cidrs = new CidrSet();
    this.#nextExpiryMs = Infinity;
    for (const ban of bans) this.#put(ban);
    let warning: string | undefined;
    if (invalid > 0) {
      warning = await this.#setAside(file, `${invalid} invalid entries skipped`, bans.length);
    }
    if (invalid > 0 || expired > 0) {
      const saved = await this.save();
      if (!saved.ok) {
        warning = warning === undefined ? saved.warning : `${warning}; ${saved.warning}`;
      }
    }
    return warning === undefined
      ? { loaded: bans.length, expired }
      : { loaded: bans.length, expired, warning };
  }

  /**
   * Writes the list to `bans.json` atomically. Writes are serialized; a call while a write
   * is queued joins it. Never rejects.
   *
   * @returns Whether it was written, with a warning to log if not.
   */
  save(): Promise<BanSaveResult> {
    if (this.#file === undefined) return Promise.resolve({ ok: true });
    if (this.#queued !== undefined) return this.#queued;
    const run = this.#tail.then(() => {
      // From here on a new change needs a new write: this one snapshots the list now.
      this.#queued = undefined;
      return this.#write();
    });
    this.#queued = run;
    this.#tail = run;
    return run;
  }

  /** Waits until every save asked for so far has finished (for shutdown and tests). */
  async flush(): Promise<void> {
    await this.#tail;
  }

  #put(ban: Ban): void {
    if (ban.kind === "peer") {
      this.#peers.delete(ban.value);
      this.#peers.set(ban.value, ban);
    } else {
      this.#cidrBans.delete(ban.value);
      this.#cidrBans.set(ban.value, ban);
      this.#cidrs.add(ban.value);
    }
    if (ban.expiresAtMs !== undefined && ban.expiresAtMs < this.#nextExpiryMs) {
      this.#nextExpiryMs = ban.expiresAtMs;
    }
  }

  #drop(ban: Ban): void {
    if (ban.kind === "peer") {
      this.#peers.delete(ban.value);
    } else {
      this.#cidrBans.delete(ban.value);
      this.#cidrs.delete(ban.value);
    }
  }

  #emit(event: BanEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onWarning(
          `A ban listener threw on ${event.type} of '${event.ban.value}': ${errorText(error)}`,
        );
      }
    }
  }

  #autoSave(): void {
    if (this.#file === undefined) return;
    void this.save();
  }

  async #write(): Promise<BanSaveResult> {
    const file = this.#file;
    if (file === undefined) return { ok: true };
    const data = encodeBans([...this.#peers.values(), ...this.#cidrBans.values()]);
    const error = await writeAtomic(file, data, ++this.#tmpCounter);
    if (error === undefined) {
      if (this.#saveError !== undefined) this.#onWarning(`Bans saved again to '${file.path}'`);
      this.#saveError = undefined;
      return { ok: true };
    }
    this.#saveFailures++;
    // Once per distinct failure: a read-only data dir must not log on every retry.
    if (error !== this.#saveError) this.#onWarning(error);
    this.#saveError = error;
    return { ok: false, warning: error };
  }

  #setAside(file: BanFile, reason: string, kept?: number): Promise<string> {
    const outcome = kept === undefined
      ? "started with the bans held before"
      : `kept ${kept} valid bans`;
    return setAside(file, { nowMs: this.#clock.nowMs(), reason, outcome });
  }
}

/** Removes the temporary files saves interrupted by a crash left in `dir`. */
async function removeStrayTemps(fs: BanFs, dir: string): Promise<number> {
  let removed = 0;
  try {
    for (const name of await fs.readDir(dir)) {
      if (!name.startsWith(`${BANS_FILE_NAME}.tmp-`)) continue;
      await fs.remove(`${dir.replace(/\/+$/, "")}/${name}`);
      removed++;
    }
  } catch {
    // A directory that cannot be listed or a file that cannot be removed costs only the space.
  }
  return removed;
}
