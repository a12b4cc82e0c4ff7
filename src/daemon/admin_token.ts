/**
 * The admin API's bearer token, read from `admin.token_file` at start and on every reload:
 * the first line of the file, trimmed, at least 16 characters. A file readable by group or
 * others is used, with a warning.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ResolvedConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";

const log = getLogger(["hopd", "daemon"]);

/**
 * Reads the admin bearer token: the first line of the file, trimmed.
 *
 * @param path The token file.
 * @returns The token and whether the file is readable by group or others.
 * @throws {ConfigError} When the file cannot be read or holds no token.
 */
export async function readAdminToken(path: string): Promise<{ token: string; looseMode: boolean }> {
  let text: string;
  let mode: number | null;
  try {
    text = await Deno.readTextFile(path);
    mode = (await Deno.stat(path)).mode;
  } catch (error) {
    throw new ConfigError(`Cannot load admin token '${path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  const token = text.split("\n")[0]!.trim();
  if (token.length < 16) {
    throw new ConfigError(
      `Cannot load admin token '${path}' as its first line must hold a token of at least 16 characters`,
    );
  }
  return { token, looseMode: mode !== null && (mode & 0o077) !== 0 };
}

/**
 * Reads the token a config names, warning when the file is readable by group or others.
 *
 * @param config The config (`admin.token_file`).
 * @returns The token, or undefined when no token file is set.
 * @throws {ConfigError} When the file cannot be read or holds no token.
 */
export async function readAdminTokenFor(
  config: Pick<ResolvedConfig, "admin">,
): Promise<string | undefined> {
  const path = config.admin.tokenFile;
  if (path === undefined) return undefined;
  const { token, looseMode } = await readAdminToken(path);
  if (looseMode) {
    log.warn("Admin token {path} is readable by group or others: run chmod 600 {path}", { path });
  }
  return token;
}
