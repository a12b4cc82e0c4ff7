/**
 * libp2p reports listeners that failed to open as one `UnsupportedListenAddressesError` whose
 * message holds, per address, the transport's error with its stack, and advice about
 * `transportManager.faultTolerance` (not a hopd setting). This turns it into the one line an
 * operator needs: the address, the config key, the cause. The shape is libp2p 3.3's
 * (transport-manager.ts `listen`); tests/operator_e2e_test.ts fails on a real port in use when it
 * changes, and an unrecognised message is passed on as its first line.
 *
 * @module
 */

import { listenCause, ListenError } from "../errors.ts";

/** The name of libp2p's error when configured addresses could not be listened on. */
const LIBP2P_LISTEN_ERROR = "UnsupportedListenAddressesError";

// "  /ip4/127.0.0.1/tcp/4001: Error: listen EADDRINUSE: address already in use 127.0.0.1:4001"
const FAILED_ADDRESS = /^ {2}(\/\S+): (.*)$/gm;

/**
 * Turns libp2p's failure to listen into a {@linkcode ListenError} naming each address that
 * failed (under `node.listen`) and why, in one line.
 *
 * @param error What `libp2p.start()` threw.
 * @returns The one-line error, or undefined when `error` is not a listen failure.
 */
export function listenFailure(error: unknown): ListenError | undefined {
  if (!(error instanceof Error) || error.name !== LIBP2P_LISTEN_ERROR) return undefined;
  const failed = [...error.message.matchAll(FAILED_ADDRESS)].map(([, addr, text]) =>
    `${addr} (node.listen): ${listenCause(text!)}`
  );
  const detail = failed.length > 0 ? failed.join("; ") : error.message.split("\n")[0]!;
  return new ListenError(`Cannot listen on ${detail}`, { cause: error });
}
