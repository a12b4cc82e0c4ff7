/**
 * Certificates for WebSockets over TLS from an ACME CA (Let's Encrypt, step-ca, pebble…),
 * obtained and renewed by hopd itself: the `[acme]` section.
 *
 * Flow: {@linkcode AcmeManager.load} reads `<data_dir>/acme/` before the host is built, so
 * a stored certificate is served from the first connection → the host starts (TCP and WS
 * are ready at once) → {@linkcode AcmeManager.start} binds the http-01 server on
 * `acme.http_listen` and orders in the background when there is no certificate or it is
 * due → each new certificate goes to `onCertificate`, which the daemon points at
 * `Host.useCertificate` (the same live swap as SIGHUP: open connections keep theirs). The
 * ACME exchange itself is the `acme-client` npm library ({@linkcode acmeClientCa}).
 *
 * Only http-01 is offered: tls-alpn-01 needs the WSS port to serve a certificate carrying
 * the critical acmeIdentifier extension (RFC 8737 §3), which Deno's TLS (rustls/webpki)
 * refuses to load; `tls_alpn_test.ts` pins that down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricsRegistry } from "../metrics/mod.ts";
 * import { SYSTEM_CLOCK } from "../clock/mod.ts";
 * import { defaultConfig } from "../config/mod.ts";
 * import { acmeService } from "./mod.ts";
 * const dataDir = await Deno.makeTempDir();
 * const acme = acmeService({ acme: defaultConfig().acme, dataDir })({
 *   registry: new MetricsRegistry(),
 *   clock: SYSTEM_CLOCK,
 *   onCertificate: (certificate) => console.log(certificate.notAfterMs), // host.useCertificate
 * });
 * // Before createHost: the stored certificate, if any (none in a fresh data directory).
 * assert.equal(await acme.load(), undefined);
 * // After host.start(), `await acme.start()` orders or renews as needed (it reaches the CA).
 * await Deno.remove(dataDir, { recursive: true });
 * ```
 *
 * @module
 */

import type { Clock } from "../clock/mod.ts";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ResolvedAcmeConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import type { LoadedCertificate } from "../host/mod.ts";
import { AcmeManager } from "./acme_manager.ts";
import { acmeClientCa } from "./ca_client.ts";
import { CertificateStore, denoAcmeFs } from "./certificate_store.ts";
import { Http01Responder } from "./http01_responder.ts";

export { AcmeManager } from "./acme_manager.ts";
export type { AcmeManagerComponents, AcmeStatus, ChallengeServer } from "./acme_manager.ts";
export type { AcmeCa, IssuedPair, OrderRequest } from "./ca_client.ts";
export { CertificateStore } from "./certificate_store.ts";
export type { AcmeFs, StoredCertificate } from "./certificate_store.ts";
export { Http01Responder } from "./http01_responder.ts";
export type { ChallengeResponder } from "./http01_responder.ts";
export { renewAtMs, retryDelayMs } from "./schedule.ts";

/** What {@linkcode acmeService} is built from. */
export interface AcmeInit {
  /** `[acme]`, resolved. */
  readonly acme: ResolvedAcmeConfig;
  /** `node.data_dir`: the account key and certificate live in its `acme/` folder. */
  readonly dataDir: string;
}

/** What the running service needs from the daemon. */
export interface AcmeComponents {
  /** Where the ACME metrics are registered. */
  readonly registry: MetricsRegistry;
  /** Wall clock: renewal times and the certificate's expiry are judged by it. */
  readonly clock: Clock;
  /** Told about every new certificate (the host serves it from then on). */
  readonly onCertificate: (certificate: LoadedCertificate) => void;
}

/**
 * The ACME service factory: the real store (`<data_dir>/acme/`), CA client and http-01
 * server.
 *
 * @param init `[acme]` and the data directory.
 * @returns A function of the components that builds the manager.
 */
export function acmeService(init: AcmeInit): (components: AcmeComponents) => AcmeManager {
  return (components) =>
    new AcmeManager(init.acme, {
      ...components,
      store: new CertificateStore(denoAcmeFs(), init.dataDir),
      challenges: new Http01Responder(),
      ca: async (accountKey) =>
        acmeClientCa({
          directoryUrl: init.acme.directoryUrl,
          accountKey,
          ...(init.acme.directoryCaFile === undefined ? {} : {
            caCertificates: await readConfigured("directory_ca_file", init.acme.directoryCaFile),
          }),
          ...(init.acme.eab === undefined ? {} : {
            eab: {
              kid: init.acme.eab.kid,
              hmacKey: (await readConfigured("eab_hmac_key_file", init.acme.eab.hmacKeyFile))
                .split("\n")[0]!.trim(),
            },
          }),
        }),
    });
}

async function readConfigured(key: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(
      `Cannot load acme.${key} '${path}': ${(error as Error).message}`,
      { cause: error },
    );
  }
}
