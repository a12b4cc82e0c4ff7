/**
 * The node's identity: a libp2p private key stored as its protobuf bytes (for Ed25519 the
 * 68-byte file go-libp2p-relay-daemon reads and writes). Created with mode 0600 when
 * missing, never overwritten; a key readable by group or others is reported so the caller
 * can warn; a file that is not a key is a {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import { loadOrCreateIdentity } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const identity = await loadOrCreateIdentity(`${dir}/identity.key`);
 * identity.peerId; // "12D3KooW…"
 * ```
 *
 * @module
 */

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { dirname } from "node:path";
import { ConfigError } from "../errors.ts";

/** Permission bits of a freshly written key file: owner read/write only. */
export const IDENTITY_FILE_MODE = 0o600;

/** A loaded identity. */
export interface Identity {
  /**
   * The key as libp2p protobuf bytes (the file's contents), checked to decode: it signs the
   * node's handshakes and records. The host and the relay each decode it once
   * (`privateKeyFromProtobuf`), so no library key type crosses a component's boundary.
   */
  readonly privateKeyProtobuf: Uint8Array;
  /** The peer ID derived from the key, as text (`12D3KooW…`), as clients dial it. */
  readonly peerId: string;
  /** Path the key was read from or written to. */
  readonly path: string;
  /** True when this call created the key file. */
  readonly created: boolean;
  /** True when the file is readable by group or others (the caller should warn). */
  readonly looseMode: boolean;
}

/**
 * Decodes libp2p protobuf private-key bytes.
 *
 * @param bytes The file's contents.
 * @param path The file's path, for the error message.
 * @returns The private key.
 * @throws {ConfigError} When the bytes are not a libp2p private key.
 */
function decodeIdentity(bytes: Uint8Array, path: string): PrivateKey {
  try {
    return privateKeyFromProtobuf(bytes);
  } catch (error) {
    throw new ConfigError(
      `Cannot load identity '${path}' as it is not a libp2p protobuf private key ` +
        `(${bytes.byteLength} bytes; an Ed25519 key file is 68 bytes): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Generates a new Ed25519 key and writes it to `path` with mode 0600.
 *
 * @param path Where to write; parent directories are created.
 * @returns The new identity.
 * @throws {Deno.errors.AlreadyExists} When `path` already exists: keys are never overwritten.
 */
export async function createIdentity(path: string): Promise<Identity> {
  const privateKey = await generateKeyPair("Ed25519");
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // createNew makes the existence check and the create one atomic step: no overwrite race.
  const bytes = privateKeyToProtobuf(privateKey);
  const file = await Deno.open(path, { write: true, createNew: true, mode: IDENTITY_FILE_MODE });
  try {
    let written = 0;
    while (written < bytes.byteLength) written += await file.write(bytes.subarray(written));
    await file.syncData();
  } finally {
    file.close();
  }
  return {
    privateKeyProtobuf: bytes,
    peerId: peerIdFromPrivateKey(privateKey).toString(),
    path,
    created: true,
    looseMode: false,
  };
}

/**
 * Reads the key at `path`.
 *
 * @param path The key file.
 * @returns The identity.
 * @throws {ConfigError} When the file cannot be read or is not a key.
 */
export async function readIdentity(path: string): Promise<Identity> {
  let bytes: Uint8Array;
  let mode: number | null;
  try {
    bytes = await Deno.readFile(path);
    mode = (await Deno.stat(path)).mode;
  } catch (error) {
    throw new ConfigError(`Cannot load identity '${path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  const privateKey = decodeIdentity(bytes, path);
  return {
    privateKeyProtobuf: bytes,
    peerId: peerIdFromPrivateKey(privateKey).toString(),
    path,
    created: false,
    looseMode: mode !== null && (mode & 0o077) !== 0,
  };
}

/**
 * Loads the key at `path`, creating it first when it does not exist.
 *
 * @param path The key file.
 * @returns The identity.
 * @throws {ConfigError} When the file exists but cannot be read or is not a key.
 */
export async function loadOrCreateIdentity(path: string): Promise<Identity> {
  try {
    return await readIdentity(path);
  } catch (error) {
    if (!((error as Error).cause instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    return await createIdentity(path);
  } catch (error) {
    // Another process created it between our read and our create: use theirs.
    if (error instanceof Deno.errors.AlreadyExists) return await readIdentity(path);
    throw new ConfigError(`Cannot create identity '${path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
}
