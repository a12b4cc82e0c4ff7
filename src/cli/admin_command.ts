/**
 * `hopd admin`: the admin API of a running node (bans, peers, drain, resume) from the
 * command line, with the token read from a file.
 *
 * @module
 */

import { abortAfter, SYSTEM_CLOCK } from "../clock/mod.ts";
import type { Command } from "commander";
import type { CliIo } from "./_io.ts";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from "./exit_codes.ts";
import { parseOpsUrl, parseTimeoutMs, TIMEOUT_FORMS, URL_FORMS } from "./_options.ts";

/** Default base URL of the ops server the admin commands call. */
export const DEFAULT_ADMIN_URL = "http://127.0.0.1:8080";

interface AdminFlags {
  url: string;
  tokenFile?: string;
  timeout: string;
}

/** One admin API call: method, path under /v1/admin, optional JSON body. */
interface AdminCall {
  readonly method: "GET" | "POST" | "DELETE";
  readonly path: string;
  readonly body?: Record<string, unknown>;
}

async function readToken(io: CliIo, flags: AdminFlags): Promise<string | undefined> {
  const file = flags.tokenFile ?? io.env().HOPD_ADMIN_TOKEN_FILE;
  if (file === undefined || file === "") return undefined;
  const token = (await Deno.readTextFile(file)).split("\n")[0]!.trim();
  if (token === "") throw new TypeError(`Token file '${file}' is empty`);
  return token;
}

/**
 * Calls the admin API once and prints the JSON answer on stdout (errors on stderr).
 *
 * @returns 0 on a 2xx answer, 1 otherwise (including an unreachable node), 2 on a bad
 *   `--url` or `--timeout`.
 */
async function callAdmin(io: CliIo, flags: AdminFlags, call: AdminCall): Promise<number> {
  const timeoutMs = parseTimeoutMs(flags.timeout);
  if (timeoutMs === undefined) {
    io.stderr(`error: --timeout must be ${TIMEOUT_FORMS}: got '${flags.timeout}'\n`);
    return EXIT_USAGE;
  }
  const base = parseOpsUrl(flags.url);
  if (base === undefined) {
    io.stderr(`error: --url must be ${URL_FORMS}: got '${flags.url}'\n`);
    return EXIT_USAGE;
  }
  const token = await readToken(io, flags);
  const url = new URL(`/v1/admin${call.path}`, base);
  const timeout = abortAfter(io.clock ?? SYSTEM_CLOCK, timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, {
      method: call.method,
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(call.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: call.body === undefined ? undefined : JSON.stringify(call.body),
      signal: timeout.signal,
    });
  } catch (error) {
    timeout.clear();
    const cause = (error as Error).cause;
    io.stderr(
      `error: cannot reach ${url.origin}: ${
        cause instanceof Error ? cause.message : (error as Error).message
      }\n`,
    );
    return EXIT_FAILURE;
  }
  let text: string;
  try {
    text = await response.text();
  } finally {
    timeout.clear();
  }
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: print as is.
  }
  if (!response.ok) {
    const message = (body as { error?: { message?: string } })?.error?.message ?? text;
    io.stderr(`error: HTTP ${response.status}: ${message}\n`);
    return EXIT_FAILURE;
  }
  io.stdout(`${JSON.stringify(body, null, 2)}\n`);
  return EXIT_OK;
}

/**
 * Adds `hopd admin …`: a thin client of the node's /v1/admin API.
 *
 * @param program The root command.
 * @param io Output and environment.
 * @param setCode Records the exit code.
 */
export function addAdminCommands(
  program: Command,
  io: CliIo,
  setCode: (code: number) => void,
): void {
  const admin = program.command("admin")
    .description("call a running node's admin API (bans, peers, drain, resume)")
    .option(
      "--url <url>",
      "the node's ops URL (HOST:PORT means http://HOST:PORT)",
      DEFAULT_ADMIN_URL,
    )
    .option("--token-file <file>", "bearer token file (default $HOPD_ADMIN_TOKEN_FILE)")
    .option("--timeout <duration>", 'request timeout ("10s", or seconds)', "10s");
  const run = (call: AdminCall) => async () =>
    setCode(await callAdmin(io, admin.opts<AdminFlags>(), call));
  const paged = (opts: { limit?: string; offset?: string }) =>
    `?${new URLSearchParams({ limit: opts.limit ?? "100", offset: opts.offset ?? "0" })}`;

  admin.command("bans").description("list bans")
    .option("--limit <n>", "page size", "100").option("--offset <n>", "page start", "0")
    .action(async (opts) =>
      setCode(await callAdmin(io, admin.opts(), { method: "GET", path: `/bans${paged(opts)}` }))
    );
  admin.command("ban").description("ban a peer ID or a CIDR (closes its connections)")
    .option("--peer <peerId>", "peer ID to ban")
    .option("--cidr <cidr>", "CIDR to ban, e.g. 203.0.113.0/24")
    .option("--ttl <duration>", 'how long, e.g. "1h" (default: until unbanned)')
    .option("--reason <text>", "why (kept with the ban and in the audit log)")
    .option(
      "--force",
      "ban a CIDR wider than limits.ban_prefix_min_v4/_v6 (a /16, a /32) all the same",
    )
    .action(async (
      opts: { peer?: string; cidr?: string; ttl?: string; reason?: string; force?: true },
    ) =>
      setCode(
        await callAdmin(io, admin.opts(), { method: "POST", path: "/bans", body: { ...opts } }),
      )
    );
  admin.command("unban").description("remove the ban on a peer ID or CIDR")
    .argument("<target>", "peer ID or CIDR")
    .action(async (target: string) =>
      setCode(
        await callAdmin(io, admin.opts(), {
          method: "DELETE",
          path: `/bans/${encodeURIComponent(target)}`,
        }),
      )
    );
  for (const list of ["peers", "reservations", "circuits"] as const) {
    admin.command(list).description(`list ${list} (paged)`)
      .option("--limit <n>", "page size", "100").option("--offset <n>", "page start", "0")
      .action(async (opts) =>
        setCode(
          await callAdmin(io, admin.opts(), { method: "GET", path: `/${list}${paged(opts)}` }),
        )
      );
  }
  admin.command("disconnect").description("close every connection of a peer")
    .argument("<peer>", "peer ID")
    .action(async (peer: string) =>
      setCode(
        await callAdmin(io, admin.opts(), {
          method: "POST",
          path: `/peers/${encodeURIComponent(peer)}/disconnect`,
        }),
      )
    );
  admin.command("drain").description("refuse new connections and reservations; /ready turns 503")
    .action(run({ method: "POST", path: "/drain" }));
  admin.command("resume").description("end a drain").action(
    run({ method: "POST", path: "/resume" }),
  );
}
