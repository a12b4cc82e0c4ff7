/**
 * The file operations the ban list needs, as a small interface so tests can inject faults,
 * and {@linkcode denoBanFs}, the real one.
 *
 * @module
 */

/** File operations for persisting bans. Paths are absolute or relative to the cwd. */
export interface BanFs {
  /** Reads a UTF-8 file; undefined when it does not exist. Other failures throw. */
  readTextFile(path: string): Promise<string | undefined>;
  /** Creates or truncates `path`, writes `data`, fsyncs it and closes it. */
  writeTextFileSynced(path: string, data: string): Promise<void>;
  /** Renames atomically within one directory (replaces `to`). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Fsyncs a directory so a rename in it survives a crash (best effort). */
  syncDir(path: string): Promise<void>;
  /** Names of the entries of a directory; a missing directory has none. */
  readDir(path: string): Promise<string[]>;
}

/** {@linkcode BanFs} on Deno's file APIs. */
export function denoBanFs(): BanFs {
  return {
    async readTextFile(path) {
      try {
        return await Deno.readTextFile(path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      }
    },
    async writeTextFileSynced(path, data) {
      const file = await Deno.open(path, {
        write: true,
        create: true,
        truncate: true,
        mode: 0o600,
      });
      try {
        const bytes = new TextEncoder().encode(data);
        let written = 0;
        while (written < bytes.length) written += await file.write(bytes.subarray(written));
        await file.sync();
      } finally {
        file.close();
      }
    },
    rename(from, to) {
      return Deno.rename(from, to);
    },
    async remove(path) {
      try {
        await Deno.remove(path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    },
    async readDir(path) {
      const names: string[] = [];
      try {
        for await (const entry of Deno.readDir(path)) names.push(entry.name);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return names;
    },
    async syncDir(path) {
      // Directory fsync is what makes the rename durable on Linux; other systems may refuse
      // to open a directory, which loses only that guarantee.
      try {
        const dir = await Deno.open(path, { read: true });
        try {
          await dir.sync();
        } finally {
          dir.close();
        }
      } catch {
        // best effort
      }
    },
  };
}
