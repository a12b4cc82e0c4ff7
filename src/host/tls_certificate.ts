/**
 * The TLS certificate served on WebSockets over TLS: read from files or handed over by ACME,
 * parsed for its expiry, and renewed in the running listener without a restart.
 *
 * @module
 */

import type { Libp2pEvents, TLSCertificate, TypedEventTarget } from "@libp2p/interface";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { ConfigError } from "../errors.ts";

/** Where a certificate came from: `[tls]` files or hopd's own ACME client. */
export type CertificateSource = "files" | "acme";

/** A certificate chain and key, with what the leaf certificate says. */
export interface LoadedCertificate {
  /** The private key, PEM (libp2p's `TLSCertificate.key`). */
  readonly key: string;
  /** The certificate chain, leaf first, PEM (libp2p's `TLSCertificate.cert`). */
  readonly cert: string;
  /** `[tls]` files or hopd's ACME client. */
  readonly source: CertificateSource;
  /** The leaf certificate's notBefore, in unix milliseconds. */
  readonly notBeforeMs: number;
  /** The leaf certificate's notAfter, in unix milliseconds. */
  readonly notAfterMs: number;
  /** The leaf's DNS subject alternative names, lowercased, in certificate order. */
  readonly domains: readonly string[];
  /** The issuer's common name (or its whole distinguished name when it has none). */
  readonly issuer: string;
}

/**
 * Reads what a PEM certificate chain says and checks that the key belongs to its leaf.
 *
 * @param cert PEM certificate chain (leaf first).
 * @param key PEM private key.
 * @param source Where the pair came from.
 * @returns The pair with the leaf's validity, names and issuer.
 * @throws {TypeError} When the chain holds no certificate, the key is no PEM private key,
 * or the key does not match the leaf.
 */
export function parseCertificate(
  cert: string,
  key: string,
  source: CertificateSource,
): LoadedCertificate {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new TypeError("the key holds no PEM private key");
  }
  const leaf = new X509Certificate(cert);
  if (!leaf.checkPrivateKey(createPrivateKey(key))) {
    throw new TypeError("the key does not belong to the certificate");
  }
  const domains = (leaf.subjectAltName ?? "").split(",").map((name) => name.trim())
    .filter((name) => name.startsWith("DNS:")).map((name) => name.slice(4).toLowerCase());
  const issuerCn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.issuer)?.[1];
  return {
    cert,
    key,
    source,
    notBeforeMs: Date.parse(leaf.validFrom),
    notAfterMs: Date.parse(leaf.validTo),
    domains,
    issuer: issuerCn ?? leaf.issuer.replaceAll("\n", ", "),
  };
}

/**
 * Reads and checks a PEM certificate chain and key.
 *
 * @param certFile PEM certificate chain (leaf first).
 * @param keyFile PEM private key.
 * @returns The PEM texts and the leaf's expiry.
 * @throws {ConfigError} When a file cannot be read or does not hold a certificate or key.
 */
export async function readCertificate(
  certFile: string,
  keyFile: string,
): Promise<LoadedCertificate> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([Deno.readTextFile(certFile), Deno.readTextFile(keyFile)]);
  } catch (error) {
    throw new ConfigError(`Cannot load TLS certificate: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new ConfigError(`Cannot load TLS key '${keyFile}' as it holds no PEM private key`);
  }
  try {
    return parseCertificate(cert, key, "files");
  } catch (error) {
    throw new ConfigError(
      `Cannot load TLS certificate '${certFile}' with key '${keyFile}': ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
}

/** A libp2p service that hands a new certificate to the WebSockets listener. */
export interface CertificateRenewer {
  /** Serves `certificate` on the WebSockets-over-TLS listeners from now on. */
  renew(certificate: TLSCertificate): void;
}

/**
 * libp2p service factory for {@linkcode CertificateRenewer}. The WebSockets listener
 * restarts its TLS server on the internal `certificate:renew` event (the mechanism
 * libp2p's auto-tls uses), so new connections get the new certificate while open ones
 * keep theirs.
 *
 * @returns The service factory.
 */
export function certificateRenewer(): (
  components: { events: TypedEventTarget<Libp2pEvents> },
) => CertificateRenewer {
  return ({ events }) => ({
    renew(certificate) {
      events.safeDispatchEvent("certificate:renew", {
        detail: { cert: certificate.cert, key: certificate.key },
      });
    },
  });
}
