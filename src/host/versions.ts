/**
 * The versions of the packages whose internals src/host/ reaches into, as each workaround was
 * checked against them. deno.json pins exactly these (src/host/versions_test.ts fails when an
 * upgrade changes one: re-check the workarounds listed, then the version here). At run time,
 * js-libp2p's own version is checked too (it exports it): the workarounds on libp2p's
 * internals do nothing on another one, and the host warns at start (patch_warnings.ts).
 *
 * @module
 */

import { version as runningLibp2pVersion } from "libp2p/version";

/** Each package src/host/ patches: the version checked, and the workarounds that depend on it. */
export const PATCHED_PACKAGES: Readonly<
  Record<string, { readonly version: string; readonly workarounds: readonly string[] }>
> = {
  "libp2p": {
    version: "3.3.11",
    workarounds: [
      "connection_list.ts",
      "own_addrs.ts",
      "peer_store_merges.ts",
      "pipelined_stream.ts",
      "self_peer_record.ts",
    ],
  },
  "@libp2p/identify": { version: "4.1.14", workarounds: ["self_peer_record.ts"] },
  "main-event": { version: "1.0.5", workarounds: ["lean_events.ts"] },
  "@libp2p/utils": { version: "7.4.1", workarounds: ["lean_events.ts", "noise_crypto.ts"] },
  "@libp2p/tcp": {
    version: "11.0.28",
    workarounds: ["coalesce_writes.ts", "guarded_listeners.ts"],
  },
  "@libp2p/websockets": {
    version: "10.1.21",
    workarounds: ["guarded_listeners.ts", "tls_certificate.ts"],
  },
  "@libp2p/noise": { version: "17.0.3", workarounds: ["noise_crypto.ts"] },
  "@libp2p/yamux": {
    version: "8.0.3",
    workarounds: ["yamux_frames.ts", "yamux_syn.ts", "yamux_window_updates.ts"],
  },
};

/**
 * Whether the running js-libp2p is the one the workarounds on its internals were checked
 * against.
 *
 * @param version js-libp2p's version (the running one by default).
 * @returns False on any other version.
 */
export function libp2pChecked(version: string = runningLibp2pVersion): boolean {
  return version === PATCHED_PACKAGES["libp2p"]!.version;
}
