// Runs Debian's pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv (its test
// DNS server, answering 127.0.0.1 for every name) on free loopback ports, for the ACME
// end-to-end tests. Install both with scripts/test_deps.sh; this helper never installs.
import { join } from "node:path";
import { makeTestCa } from "./test_ca.ts";

/** A running pebble with its DNS server. */
export interface Pebble {
  /** The ACME directory URL, https://127.0.0.1:PORT/dir */
  readonly directoryUrl: string;
  /** PEM CA that signed pebble's own HTTPS certificate (hopd's `acme.directory_ca_file`). */
  readonly directoryCaFile: string;
  /** The port pebble's VA connects to for http-01 (hopd's `acme.http_listen`). */
  readonly httpPort: number;
  readonly dir: string;
  /** The root that issues the certificates (from pebble's management API). */
  root(): Promise<string>;
  /** pebble's log so far (for failure messages). */
  log(): string;
  /** Stops pebble only (the CA goes down; DNS stays). */
  stopCa(): Promise<void>;
  /** Stops both and removes the temporary files. */
  stop(): Promise<void>;
}

/** What {@linkcode startPebble} sets up. */
export interface PebbleOptions {
  /** Lifetime of issued certificates. @default pebble's 5 years */
  readonly validitySeconds?: number;
  /** Require external account binding with this key id and base64url HMAC key. */
  readonly eab?: { readonly kid: string; readonly hmacKey: string };
}

/** A TCP port that was free a moment ago (pebble takes ports only from its config). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function requireBinary(name: string): void {
  const found = new Deno.Command("sh", { args: ["-c", `command -v ${name}`] }).outputSync();
  if (!found.success) {
    throw new Error(
      `Cannot run the ACME tests as '${name}' is not installed: run 'bash scripts/test_deps.sh' ` +
        "(installs Debian's pebble package)",
    );
  }
}

interface Child {
  readonly process: Deno.ChildProcess;
  readonly output: string[];
  readonly done: Promise<unknown>;
}

function spawn(command: string, args: string[], env: Record<string, string>): Child {
  const process = new Deno.Command(command, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) output.push(chunk);
  };
  const done = Promise.all([pump(process.stdout), pump(process.stderr), process.status]);
  return { process, output, done };
}

async function kill(child: Child): Promise<void> {
  try {
    child.process.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  await child.done;
}

/**
 * Starts pebble-challtestsrv (DNS only, A 127.0.0.1, no AAAA) and pebble with its VA's
 * sleeps off and no nonce rejections, on free ports, and waits for the directory.
 *
 * @param options Certificate lifetime and external account binding.
 * @returns The running pair.
 * @throws {Error} When pebble or pebble-challtestsrv is not installed, or does not start.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  requireBinary("pebble");
  requireBinary("pebble-challtestsrv");
  const dir = await Deno.makeTempDir({ prefix: "hopd-pebble-" });
  // pebble's own HTTPS certificate, and the CA hopd trusts for it (acme.directory_ca_file).
  await makeTestCa(dir, [{ name: "https", days: 2 }]);
  const [dnsPort, listenPort, managementPort, httpPort, challtestManagementPort] = [
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ];
  await Deno.writeTextFile(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${listenPort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: join(dir, "https.pem"),
        privateKey: join(dir, "https.key"),
        httpPort,
        // tls-alpn-01 is not offered by hopd (see src/acme/tls_alpn_test.ts); a port that
        // nothing listens on.
        tlsPort: freePort(),
        ocspResponderURL: "",
        externalAccountBindingRequired: options.eab !== undefined,
        ...(options.eab === undefined
          ? {}
          : { externalAccountMACKeys: { [options.eab.kid]: options.eab.hmacKey } }),
        ...(options.validitySeconds === undefined
          ? {}
          : { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  const dns = spawn("pebble-challtestsrv", [
    "-dns01",
    `127.0.0.1:${dnsPort}`,
    "-http01",
    "",
    "-https01",
    "",
    "-tlsalpn01",
    "",
    "-management",
    `127.0.0.1:${challtestManagementPort}`,
    // No AAAA answers: the VA would try ::1 first, where hopd's test listener is not.
    "-defaultIPv6",
    "",
  ], {});
  const env = { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" };
  const ca = spawn("pebble", [
    "-config",
    join(dir, "pebble.json"),
    "-dnsserver",
    `127.0.0.1:${dnsPort}`,
  ], env);
  const caPem = await Deno.readTextFile(join(dir, "ca.pem"));
  const client = Deno.createHttpClient({ caCerts: [caPem] });
  const directoryUrl = `https://127.0.0.1:${listenPort}/dir`;
  const managementUrl = `https://127.0.0.1:${managementPort}`;
  const stopAll = async () => {
    client.close();
    await Promise.all([kill(ca), kill(dns)]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  // Polls: pebble, an external program, tells of its readiness only by serving its directory.
  const deadline = performance.now() + 15_000;
  for (;;) {
    const ok = await fetch(directoryUrl, { client }).then(async (r) => {
      await r.body?.cancel();
      return r.ok;
    }, () => false);
    if (ok) break;
    if (performance.now() > deadline) {
      const log = ca.output.join("") + dns.output.join("");
      await stopAll();
      throw new Error(`pebble did not serve its directory within 15 s:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    directoryUrl,
    directoryCaFile: join(dir, "ca.pem"),
    httpPort,
    dir,
    async root() {
      const response = await fetch(`${managementUrl}/roots/0`, { client });
      if (!response.ok) throw new Error(`pebble's /roots/0 answered ${response.status}`);
      return await response.text();
    },
    log: () => ca.output.join(""),
    stopCa: () => kill(ca),
    stop: stopAll,
  };
}

/**
 * Command and arguments that run `command args…` in a private mount namespace whose
 * /etc/hosts maps `domains` to 127.0.0.1, so stock clients resolve the test domain the way a
 * real deployment's DNS would (the rest of the machine is untouched). Needs root (unshare).
 *
 * @returns `[command, args]` for Deno.Command.
 */
export async function withTestHosts(
  domains: readonly string[],
  command: string,
  args: readonly string[],
): Promise<[string, string[]]> {
  const hosts = await Deno.makeTempFile({ prefix: "hopd-hosts-" });
  await Deno.writeTextFile(
    hosts,
    `127.0.0.1 localhost\n::1 localhost\n127.0.0.1 ${domains.join(" ")}\n`,
  );
  return [
    "unshare",
    [
      "--mount",
      "sh",
      "-c",
      'mount --bind "$0" /etc/hosts && exec "$@"',
      hosts,
      command,
      ...args,
    ],
  ];
}
