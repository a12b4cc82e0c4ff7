// Runs Debian's headless chromium on one page for tests/relay_browser_test.ts. No automation
// library: the page reports back to its own server, so the test only starts and stops the
// browser. Install chromium with scripts/test_deps.sh (the test command runs it).

/** Where Debian's `chromium` package puts the browser; CHROMIUM_PATH overrides it. */
export const DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium";

/** How many of chromium's last stderr lines to keep for failure messages. */
const STDERR_LINES_KEPT = 200;

/** A running headless chromium. */
export interface Chromium {
  /** Chromium's last stderr lines (its log, including the page's console messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; removes the profile directory. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Resolves the chromium executable.
 *
 * @returns The path to an existing chromium binary.
 * @throws {Error} If chromium is not installed, naming the script that installs it.
 */
export function chromiumPath(): string {
  const path = Deno.env.get("CHROMIUM_PATH") ?? DEFAULT_CHROMIUM_PATH;
  try {
    if (Deno.statSync(path).isFile) return path;
  } catch {
    // Fall through to the error below.
  }
  throw new Error(
    `Cannot run the browser test as chromium is not installed at '${path}': ` +
      "run 'bash scripts/test_deps.sh' (installs Debian's chromium) " +
      "or set CHROMIUM_PATH",
  );
}

/** Extra settings for {@linkcode launchChromium}. */
export interface LaunchOptions {
  /** More command-line switches (e.g. `--host-resolver-rules=…`). */
  readonly args?: readonly string[];
  /**
   * PEM root certificate chromium trusts besides the system's: put in a fresh NSS database
   * under a private HOME (needs certutil, Debian's libnss3-tools).
   */
  readonly trustRoot?: string;
}

async function certutil(args: string[]): Promise<void> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("certutil", { args, stdin: "null" }).output();
  } catch (error) {
    throw new Error(
      `Cannot make chromium trust a test root as certutil is missing (${error}): ` +
        "run 'bash scripts/test_deps.sh' (installs Debian's libnss3-tools)",
    );
  }
  if (!output.success) {
    throw new Error(
      `certutil ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/** Opens `url` in a fresh headless chromium with an empty profile. */
export async function launchChromium(url: string, options: LaunchOptions = {}): Promise<Chromium> {
  const executable = chromiumPath();
  const profileDir = await Deno.makeTempDir({ prefix: "hopd-chromium-" });
  const env: Record<string, string> = {};
  if (options.trustRoot !== undefined) {
    // Chromium on Linux reads user-added roots from $HOME/.pki/nssdb.
    const nssdb = `${profileDir}/home/.pki/nssdb`;
    await Deno.mkdir(nssdb, { recursive: true });
    await Deno.writeTextFile(`${profileDir}/root.pem`, options.trustRoot);
    await certutil(["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
    await certutil([
      "-A",
      "-d",
      `sql:${nssdb}`,
      "-t",
      "C,,",
      "-n",
      "test root",
      "-i",
      `${profileDir}/root.pem`,
    ]);
    env.HOME = `${profileDir}/home`;
  }
  const child = new Deno.Command(executable, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      // Route the page's console to stderr so a failure message can show it.
      "--enable-logging=stderr",
      "--v=0",
      `--user-data-dir=${profileDir}`,
      ...(options.args ?? []),
      url,
    ],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();

  const lines: string[] = [];
  const pump = (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
      if (lines.length > STDERR_LINES_KEPT) lines.splice(0, lines.length - STDERR_LINES_KEPT);
    }
    if (buffer !== "") lines.push(buffer);
  })();
  const status = child.status.then(async (s) => {
    await pump.catch(() => {});
    return s;
  });

  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  };
  return {
    output: () => lines.join("\n"),
    async close(timeoutMs = 5_000) {
      kill("SIGTERM");
      const killer = setTimeout(() => kill("SIGKILL"), timeoutMs);
      try {
        await status;
      } finally {
        clearTimeout(killer);
        await Deno.remove(profileDir, { recursive: true }).catch(() => {});
      }
    },
  };
}
