/**
 * The one JSON line every interop client (go, rust, node, deno) prints when it ends: schema
 * "hopd-interop/1", described field by field in docs/INTEROP.md. The harness validates each
 * line with {@linkcode parseClientResult}, so a client that drifts from the schema fails its
 * case instead of passing on a missing field.
 *
 * @module
 */

import { z } from "zod";

const limit = z.object({
  /** Seconds the relay keeps the circuit open, null when it advertised none. */
  durationS: z.number().nullable(),
  /** Bytes the relay relays per direction, null when it advertised none. */
  dataBytes: z.number().nullable(),
});

const echo = z.object({
  /** Bytes asked for (dial side) or bytes read from the dialer (listen side). */
  bytes: z.number(),
  sent: z.number(),
  received: z.number(),
  intact: z.boolean(),
  ms: z.number(),
  /** Which connection carried the echo stream. */
  via: z.enum(["relayed", "direct", "unknown"]),
  error: z.string().optional(),
  /**
   * The first attempt's error, when its connection was closed under it before any byte came
   * back (the other peer dropping a connection that lost its own dial race) and the echo ran
   * again on a connection still open.
   */
  firstError: z.string().optional(),
  /** Listen side: its close failed after every byte was echoed (the dialer had hung up). */
  closeError: z.string().optional(),
});

/** The schema of a client's result line. */
export const clientResultSchema = z.object({
  schema: z.literal("hopd-interop/1"),
  impl: z.enum(["go", "rust", "node", "deno"]),
  /** The libp2p implementation and its version, e.g. "go-libp2p v0.52.0". */
  version: z.string(),
  role: z.enum(["listen", "dial"]),
  peerId: z.string(),
  relay: z.string(),
  /** True when `errors` is empty. */
  ok: z.boolean(),
  errors: z.array(z.string()),
  /** libp2p ping round trip to the relay, null where the client did not ping. */
  relayPingMs: z.number().nullable(),
  /** Listen side: the RESERVE answer as the client read it. */
  reservation: z.object({
    ms: z.number(),
    /** Unix seconds, null where the implementation does not expose it. */
    expiresAt: z.number().nullable(),
    /** The limit the RESERVE answer carried, null where the implementation drops it. */
    limit: limit.nullable(),
    addrs: z.array(z.string()),
  }).nullable(),
  /**
   * The relayed connection: dial side, the outbound one (limit from the HOP STATUS); listen
   * side, the inbound one (limit from the STOP CONNECT).
   */
  connect: z.object({
    ms: z.number(),
    relayed: z.boolean(),
    remoteAddr: z.string(),
    limit: limit.nullable(),
  }).nullable(),
  echo: echo.nullable(),
  /** With --holepunch: whether and when a direct connection to the other client appeared. */
  holepunch: z.object({
    direct: z.boolean(),
    /** From the relayed connection opening to the direct one opening. */
    directAfterMs: z.number().nullable(),
    directAddr: z.string().optional(),
    events: z.array(z.unknown()),
  }).nullable(),
  /** The relayed connection closed, this long after it opened (null: still open at the end). */
  closed: z.object({ afterMs: z.number() }).nullable(),
  /** Addresses the relay reported seeing this client at (identify's observedAddr). */
  observedAddrs: z.array(z.string()),
  listenAddrs: z.array(z.string()),
  totalMs: z.number(),
});

/** A client's result line. */
export type ClientResult = z.infer<typeof clientResultSchema>;

/**
 * Reads the result line from a client's stdout: the last line that parses as JSON.
 *
 * @param stdout Everything the client printed on stdout.
 * @returns The validated result.
 * @throws {Error} When no line parses or the line does not fit the schema.
 */
export function parseClientResult(stdout: string): ClientResult {
  const lines = stdout.trim().split("\n").reverse();
  for (const line of lines) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = clientResultSchema.safeParse(value);
    if (!parsed.success) {
      throw new Error(`result line does not fit hopd-interop/1: ${parsed.error.message}: ${line}`);
    }
    return parsed.data;
  }
  throw new Error(`no result line on stdout: ${JSON.stringify(stdout.slice(-500))}`);
}
