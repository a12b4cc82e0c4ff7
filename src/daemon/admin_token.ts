import { ConfigError } from "../errors.ts";

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
