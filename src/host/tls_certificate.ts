import type { Libp2pEvents, TLSCertificate, TypedEventTarget } from "@libp2p/interface";
import { X509Certificate } from "node:crypto";
import { ConfigError } from "../errors.ts";

/** A certificate and key read from disk, with the certificate's expiry. */
export interface LoadedCertificate extends TLSCertificate {
  /** The leaf certificate's notAfter, in unix milliseconds. */
  readonly notAfterMs: number;
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
  let notAfterMs: number;
  try {
    notAfterMs = Date.parse(new X509Certificate(cert).validTo);
  } catch (error) {
    throw new ConfigError(
      `Cannot load TLS certificate '${certFile}' as it holds no PEM certificate: ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  return { cert, key, notAfterMs };
}

/** A libp2p service that hands a new certificate to the WebSockets listener. */
export interface CertificateRenewer {
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
