/**
 * The ACME state kept in `<data_dir>/acme/`: the account key (`account.key`), the
 * certificate chain and its key (`certificate.pem`, `certificate.key`) and the directory
 * URL it came from (`certificate.json`). Every file is written 0600 through a temporary
 * file and a rename, so a crash never leaves half a key. Files come in through
 * {@linkcode AcmeFs} so tests run without a disk.
 *
 * @module
 */

import { generateKeyPairSync } from "node:crypto";
import { dirname, join } from "node:path";
import { type BanFs, denoBanFs } from "../ratelimit/mod.ts";
import { ACME_DIR_NAME } from "./constants.ts";

/** The file operations the store uses. */
export interface AcmeFs {
  /** Resolves undefined when the file does not exist. */
  readTextFile(path: string): Promise<string | undefined>;
  /** Writes atomically with mode 0600. */
  writeSecretFile(path: string, text: string): Promise<void>;
  /** Creates the directory (and parents) with mode 0700. */
  mkdir(path: string): Promise<void>;
}

/**
 * {@linkcode AcmeFs} over Deno's file system, with the ban list's file operations (fsynced
 * write, rename, directory fsync), so a crash leaves the old file or the new one.
 */
export function denoAcmeFs(files: BanFs = denoBanFs()): AcmeFs {
  return {
    readTextFile: (path) => files.readTextFile(path),
    async writeSecretFile(path, text) {
      const temporary = `${path}.tmp`;
      // A leftover temporary would keep its own mode: the new one is created 0600.
      await files.remove(temporary);
      await files.writeTextFileSynced(temporary, text);
      await files.rename(temporary, path);
      await files.syncDir(dirname(path));
    },
    async mkdir(path) {
      await Deno.mkdir(path, { recursive: true, mode: 0o700 });
    },
  };
}

/** A stored certificate: PEM chain and key, and the directory that issued it. */
export interface StoredCertificate {
  /** The certificate chain, leaf first, PEM. */
  readonly cert: string;
  /** Its private key, PEM. */
  readonly key: string;
  /** The directory that issued it (a changed `acme.directory` orders anew). */
  readonly directoryUrl: string;
}

/** Reads and writes the ACME files under one data directory. */
export class CertificateStore {
  readonly #fs: AcmeFs;
  readonly #dir: string;

  /**
   * Creates a store for the `acme/` folder of `dataDir`.
   *
   * @param fs The file operations.
   * @param dataDir `node.data_dir`; the files go in its `acme/` folder.
   */
  constructor(fs: AcmeFs, dataDir: string) {
    this.#fs = fs;
    this.#dir = join(dataDir, ACME_DIR_NAME);
  }

  /** The folder holding the files. */
  get dir(): string {
    return this.#dir;
  }

  /**
   * The account key, created (ECDSA P-256, PKCS #8 PEM) on first use.
   *
   * @returns The PEM key and whether it was created now.
   */
  async accountKey(): Promise<{ key: string; created: boolean }> {
    const path = join(this.#dir, "account.key");
    const existing = await this.#fs.readTextFile(path);
    if (existing !== undefined) return { key: existing, created: false };
    const key = newPrivateKey();
    await this.#fs.mkdir(this.#dir);
    await this.#fs.writeSecretFile(path, key);
    return { key, created: true };
  }

  /** The stored certificate, or undefined when there is none (or only part of one). */
  async certificate(): Promise<StoredCertificate | undefined> {
    const [cert, key, meta] = await Promise.all(
      ["certificate.pem", "certificate.key", "certificate.json"].map((name) =>
        this.#fs.readTextFile(join(this.#dir, name))
      ),
    );
    if (cert === undefined || key === undefined || meta === undefined) return undefined;
    const directoryUrl = (JSON.parse(meta) as { directoryUrl?: unknown }).directoryUrl;
    return typeof directoryUrl === "string" ? { cert, key, directoryUrl } : undefined;
  }

  /** Stores a new certificate; the metadata goes last, so a partial write reads as none. */
  async saveCertificate(stored: StoredCertificate): Promise<void> {
    await this.#fs.mkdir(this.#dir);
    await this.#fs.writeSecretFile(join(this.#dir, "certificate.json"), "{}\n");
    await this.#fs.writeSecretFile(join(this.#dir, "certificate.key"), stored.key);
    await this.#fs.writeSecretFile(join(this.#dir, "certificate.pem"), stored.cert);
    await this.#fs.writeSecretFile(
      join(this.#dir, "certificate.json"),
      JSON.stringify({ directoryUrl: stored.directoryUrl }) + "\n",
    );
  }
}

/** A fresh ECDSA P-256 private key as PKCS #8 PEM (account keys and certificate keys). */
export function newPrivateKey(): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey
    .export({ type: "pkcs8", format: "pem" }).toString();
}
