// A throwaway CA and leaf certificates for localhost / 127.0.0.1, made with openssl: the
// files-based TLS tests serve them, and pebble serves its ACME directory with one.
import { join } from "node:path";

async function openssl(args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/**
 * Writes `ca.pem`/`ca.key` (a 2-day CA) and, for each leaf, `<name>.pem`/`<name>.key`: an
 * ECDSA certificate for localhost and 127.0.0.1 signed by it, valid `days` days.
 *
 * @param dir Where the files go.
 * @param leaves The leaf certificates to make.
 */
export async function makeTestCa(
  dir: string,
  leaves: readonly { readonly name: string; readonly days: number }[],
): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    join(dir, "ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=hopd test CA",
  ]);
  const ext = join(dir, "ext.cnf");
  await Deno.writeTextFile(
    ext,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  for (const { name, days } of leaves) {
    await openssl([
      "req",
      ...ec,
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      join(dir, `${name}.csr`),
      "-subj",
      "/CN=localhost",
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      join(dir, `${name}.csr`),
      "-CA",
      join(dir, "ca.pem"),
      "-CAkey",
      join(dir, "ca.key"),
      "-CAcreateserial",
      "-out",
      join(dir, `${name}.pem`),
      "-days",
      String(days),
      "-extfile",
      ext,
    ]);
  }
}
