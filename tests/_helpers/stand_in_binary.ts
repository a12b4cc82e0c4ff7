// The real hopd binary cannot be built here (`deno compile` needs denort), so the install
// tests install a stand-in: a shell script running this checkout's main.ts with hopd's
// permission set, which is exactly what the binary embeds.

import { REPO_ROOT } from "./hopd_process.ts";

/**
 * Writes a stand-in hopd executable into `dir`.
 *
 * @param dir Where to write it.
 * @returns Its path.
 */
export async function standInBinary(dir: string): Promise<string> {
  const path = `${dir}/hopd`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec '${Deno.execPath()}' run -P=hopd --quiet --config '${REPO_ROOT}deno.json' '${REPO_ROOT}main.ts' "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}
