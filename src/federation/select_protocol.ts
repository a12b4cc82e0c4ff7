/**
 * `/hopd/select/1.0.0`: relay selection for clients already connected to a relay. The
 * client opens a stream and writes one unsigned-varint length-prefixed UTF-8 JSON object
 * with the same fields as `GET /v1/select` (`peer`, `region`, `lat`, `lon`, `n`,
 * `algorithm`, all optional; at most {@linkcode SELECT_MAX_REQUEST_BYTES}); the relay answers
 * with one length-prefixed JSON object, `{ "algorithm", "relays": [{ "peerId", "addrs",
 * "score", "region"? }] }` or `{ "error": { "code", "message" } }`, and closes.
 *
 * JSON rather than protobuf: the request is tiny and rare (once per client start), and one
 * shape for both interfaces keeps clients simple. The peer's ID is used as `peer` when the
 * request gives none.
 *
 * @module
 */

import type { Connection, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import type { Selection } from "../balancer/mod.ts";
import { HopdError } from "../errors.ts";
import { abortAfter, type Clock, SYSTEM_CLOCK } from "../clock/mod.ts";
import { SELECT_MAX_REQUEST_BYTES, SELECT_STREAM_TIMEOUT_MS } from "./constants.ts";
import type { SelectRequest } from "./mod.ts";
import { parseSelectHints } from "./select_hints.ts";

/** Largest answer a client should accept, in bytes (32 relays × 16 addrs fit). */
export const SELECT_MAX_RESPONSE_BYTES = 256 * 1_024;

/** What the handler needs. */
export interface SelectProtocolComponents {
  /** Ranks relays for a request. */
  select(request: SelectRequest): Promise<Selection>;
  /** Whether a caller from `ip` may ask now (rate limit); absent = always. */
  readonly admit?: (ip: string | undefined) => boolean;
  /** Told about each stream that failed (bad bytes, timeout, reset), for metrics. */
  readonly onError?: (reason: string) => void;
  /** The stream's timeout runs on it. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

function ipOf(connection: Connection): string | undefined {
  for (const component of connection.remoteAddr.getComponents()) {
    if (component.name === "ip4" || component.name === "ip6") return component.value;
  }
  return undefined;
}

/**
 * Serves one `/hopd/select/1.0.0` stream. Never throws: a bad request is answered with an
 * error object, a broken stream is aborted and reported through `onError`.
 *
 * @param stream The inbound stream.
 * @param connection Its connection.
 * @param components The selection and the rate limit.
 */
export async function handleSelectStream(
  stream: Stream,
  connection: Connection,
  components: SelectProtocolComponents,
): Promise<void> {
  const timeout = abortAfter(components.clock ?? SYSTEM_CLOCK, SELECT_STREAM_TIMEOUT_MS);
  const { signal } = timeout;
  const lp = lpStream(stream, { maxDataLength: SELECT_MAX_REQUEST_BYTES });
  const encoder = new TextEncoder();
  try {
    const ip = ipOf(connection);
    const request = await lp.read({ signal });
    let answer: unknown;
    if (components.admit !== undefined && !components.admit(ip)) {
      answer = errorAnswer("RATE_LIMITED", "Too many requests from this address");
    } else {
      try {
        const input = JSON.parse(
          new TextDecoder("utf-8", { fatal: true }).decode(request.subarray()),
        );
        if (input === null || typeof input !== "object" || Array.isArray(input)) {
          throw new HopdError("BAD_REQUEST", "the request must be a JSON object");
        }
        const hints = parseSelectHints(input);
        answer = await components.select({
          ...hints,
          peer: hints.peer ?? connection.remotePeer.toString(),
          ...(ip === undefined ? {} : { ip }),
        });
      } catch (error) {
        if (error instanceof HopdError) answer = errorAnswer(error.code, error.message);
        else if (error instanceof SyntaxError || error instanceof TypeError) {
          answer = errorAnswer("BAD_REQUEST", `the request is not UTF-8 JSON: ${error.message}`);
        } else throw error;
      }
    }
    await lp.write(encoder.encode(JSON.stringify(answer)), { signal });
    await stream.close({ signal });
  } catch (error) {
    components.onError?.((error as Error)?.name ?? "error");
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  } finally {
    timeout.clear();
  }
}

function errorAnswer(code: string, message: string) {
  return { error: { code, message } };
}
