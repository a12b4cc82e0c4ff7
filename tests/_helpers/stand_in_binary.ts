// The real hopd binary cannot be built here (`deno compile` needs denort), so the install
// tests install a stand-in: a shell script running hopd bundled as scripts/compile.sh bundles it
// (scripts/bundle.sh), with hopd's permission set, which is exactly what the binary embeds.

import { REPO_ROOT, testBundle } from "./hopd_process.ts";

let bundled: Promise<string> | undefined;

/**
 * hopd bundled by scripts/bundle.sh: the test command's bundle ({@linkcode testBundle}), or one
 * made into a temporary directory once per test process (the directory goes when the process
 * ends).
 *
 * @returns The path of the bundle's `hopd.js` (its sandbox worker lies beside it).
 */
export function bundledHopd(): Promise<string> {
  const made = testBundle();
  if (made !== undefined) return Promise.resolve(made);
  bundled ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "hopd-bundle-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const output = await new Deno.Command("bash", {
      args: [`${REPO_ROOT}scripts/bundle.sh`, "--outdir", dir],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`scripts/bundle.sh failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    return `${dir}/hopd.js`;
  })();
  return bundled;
}

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
    `#!/bin/sh\nexec '${Deno.execPath()}' run -P=hopd --quiet --config '${REPO_ROOT}deno.json' '${await bundledHopd()}' "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}
