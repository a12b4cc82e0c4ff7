/**
 * The ban list's file: the JSON format of `bans.json`, checking of each entry, the atomic
 * write (temporary file in the same directory, fsync, rename, directory fsync) and moving a
 * bad file aside.
 *
 * @module
 */

import type { BanFs } from "./ban_fs.ts";
import type { Ban, BanInit } from "./ban_list.ts";
import { parseCidr } from "./cidr_set.ts";
import { BANS_FILE_VERSION } from "./constants.ts";

/** What the file holds once read. */
export interface DecodedBans {
  /** Valid bans in force. */
  readonly bans: Ban[];
  /** Entries that were not valid bans. */
  readonly invalid: number;
  /** Valid bans already expired. */
  readonly expired: number;
}

/**
 * Serialises bans as the file's JSON.
 *
 * @param bans The bans.
 * @returns `{ "version": 1, "bans": [...] }`, indented, with a final newline.
 */
export function encodeBans(bans: readonly Ban[]): string {
  return JSON.stringify({ version: BANS_FILE_VERSION, bans }, null, 2) + "\n";
}

/**
 * Reads the file's JSON.
 *
 * @param text File contents.
 * @param nowMs Current wall-clock time (to drop expired bans).
 * @returns The bans and counts, or a message when the text is not the file's format.
 */
export function decodeBans(text: string, nowMs: number): DecodedBans | string {
  let entries: unknown[];
  try {
    const doc = JSON.parse(text) as { bans?: unknown } | null;
    if (doc === null || typeof doc !== "object" || !Array.isArray(doc.bans)) {
      return "expected an object with a 'bans' array";
    }
    entries = doc.bans;
  } catch (error) {
    return errorText(error);
  }
  const bans: Ban[] = [];
  let invalid = 0;
  let expired = 0;
  for (const entry of entries) {
    const ban = validateBan(entry as BanInit, nowMs);
    if (typeof ban === "string") invalid++;
    else if (ban.expiresAtMs !== undefined && ban.expiresAtMs <= nowMs) expired++;
    else bans.push(ban);
  }
  return { bans, invalid, expired };
}

/**
 * Checks a ban as given to `ban()` or read from the file.
 *
 * @param init The candidate (`createdAtMs` is kept when present).
 * @param nowMs Time stamped as `createdAtMs` when absent.
 * @returns The frozen ban (CIDR canonical), or the message saying why it is not one.
 */
export function validateBan(init: BanInit, nowMs: number): Ban | string {
  if (init === null || typeof init !== "object") return "A ban must be an object";
  const { kind, value, reason, expiresAtMs } = init;
  const createdAtMs = (init as Partial<Ban>).createdAtMs ?? nowMs;
  if (kind !== "peer" && kind !== "cidr") {
    return `Cannot ban as 'kind' must be "peer" or "cidr": current value is ${String(kind)}`;
  }
  if (typeof value !== "string" || value === "") {
    return `Cannot ban as 'value' must be a non-empty string: current value is ${String(value)}`;
  }
  let text = value;
  if (kind === "cidr") {
    try {
      text = parseCidr(value).text;
    } catch (error) {
      return errorText(error);
    }
  }
  if (expiresAtMs !== undefined && !Number.isFinite(expiresAtMs)) {
    return `Cannot ban as 'expiresAtMs' must be a finite number: current value is ${expiresAtMs}`;
  }
  if (reason !== undefined && typeof reason !== "string") {
    return `Cannot ban as 'reason' must be a string: current value is ${String(reason)}`;
  }
  if (typeof createdAtMs !== "number" || !Number.isFinite(createdAtMs)) {
    return `Cannot ban as 'createdAtMs' must be a finite number: current value is ${createdAtMs}`;
  }
  const ban: { -readonly [K in keyof Ban]: Ban[K] } = { kind, value: text, createdAtMs };
  if (reason !== undefined) ban.reason = reason;
  if (expiresAtMs !== undefined) ban.expiresAtMs = expiresAtMs;
  return Object.freeze(ban);
}

/** Where the ban list is persisted, and the file operations to reach it. */
export interface BanFile {
  readonly fs: BanFs;
  /** The data directory (fsynced after a rename). */
  readonly dir: string;
  /** `<dir>/bans.json`. */
  readonly path: string;
}

/**
 * Replaces the ban file with `data` so that a crash leaves the old or the new file, never a
 * torn one.
 *
 * @param file The ban file.
 * @param data Contents.
 * @param attempt A number making the temporary name unique within the process.
 * @returns Undefined on success, else the message to report.
 */
export async function writeAtomic(
  { fs, dir, path }: BanFile,
  data: string,
  attempt: number,
): Promise<string | undefined> {
  const tmp = `${path}.tmp-${attempt}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    await fs.writeTextFileSynced(tmp, data);
    await fs.rename(tmp, path);
    await fs.syncDir(dir);
    return undefined;
  } catch (error) {
    try {
      await fs.remove(tmp);
    } catch {
      // A stray temporary file is harmless; the message below is what matters.
    }
    return `Cannot save bans to '${path}': ${errorText(error)}`;
  }
}

/**
 * Moves a bad ban file to `<path>.corrupt-<nowMs>`.
 *
 * @param file The ban file.
 * @param why When (the time for the new name), why it is bad, and what the list did instead.
 * @returns The warning to report.
 */
export async function setAside(
  { fs, path }: BanFile,
  why: { readonly nowMs: number; readonly reason: string; readonly outcome: string },
): Promise<string> {
  const { nowMs, reason, outcome } = why;
  const aside = `${path}.corrupt-${Math.floor(nowMs)}`;
  try {
    await fs.rename(path, aside);
    return `Cannot load bans from '${path}' (${reason}): moved it to '${aside}' and ${outcome}`;
  } catch (error) {
    return `Cannot load bans from '${path}' (${reason}) nor move it aside (${
      errorText(error)
    }); ${outcome}`;
  }
}

/** The message of a thrown value. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
