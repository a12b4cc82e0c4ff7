/**
 * The CA, behind one small interface ({@linkcode AcmeCa}) so the manager's tests use a fake.
 * {@linkcode acmeClientCa} is the real one: the `acme-client` npm library does the whole
 * RFC 8555 exchange (account, order, http-01 authorization, finalize, download); hopd
 * writes no JWS or ACME protocol code of its own.
 *
 * @module
 */

import https from "node:https";
import acme from "acme-client";
import { type AxiosAdapter, getAdapter } from "axios";
import { getLogger } from "@logtape/logtape";
import { ACME_HTTP_TIMEOUT_MS } from "./constants.ts";
import type { ChallengeResponder } from "./http01_responder.ts";
import { newPrivateKey } from "./certificate_store.ts";

const log = getLogger(["hopd", "acme"]);

/** One certificate order. */
export interface OrderRequest {
  /** The names to order a certificate for. */
  readonly domains: readonly string[];
  /** Contact for the account. */
  readonly email?: string;
  /** Where http-01 answers go while the order runs. */
  readonly challenges: ChallengeResponder;
}

/** A certificate chain (leaf first) and its new private key, both PEM. */
export interface IssuedPair {
  /** The certificate chain, leaf first, PEM. */
  readonly cert: string;
  /** Its new private key, PEM. */
  readonly key: string;
}

/** The CA as the manager sees it. */
export interface AcmeCa {
  /**
   * Orders a certificate for the domains and waits for it.
   *
   * @throws {Error} With the CA's problem detail (or the network error) when it fails.
   */
  order(request: OrderRequest): Promise<IssuedPair>;
}

/**
 * acme-client 5.4.0's response interceptor, once it has no retry left for a request that
 * got no response (the CA is down), calls `validateStatus(undefined)` and throws
 * "Cannot read properties of undefined (reading 'config')" instead of the network error.
 * Its interceptor passes on an error without `config` untouched, so the adapter turns a
 * network failure into a plain Error carrying the original message ("connect ECONNREFUSED
 * 127.0.0.1:443"), which is what the operator needs to read in the log and status.
 */
function keepNetworkErrors(adapter: AxiosAdapter): AxiosAdapter {
  return async (config) => {
    try {
      return await adapter(config);
    } catch (error) {
      const failure = error as { response?: unknown; code?: string; message?: string };
      if (failure.response !== undefined) throw error;
      const code = failure.code !== undefined && !failure.message?.includes(failure.code)
        ? `${failure.code}: `
        : "";
      throw new Error(`${code}${failure.message ?? String(error)} (${config.url})`, {
        cause: error,
      });
    }
  };
}

/** What {@linkcode acmeClientCa} needs. */
export interface AcmeClientCaInit {
  readonly directoryUrl: string;
  /** PEM account key (kept in the data dir, reused across restarts). */
  readonly accountKey: string;
  /** PEM CA certificates trusted for the directory's HTTPS (a private CA). */
  readonly caCertificates?: string;
  /** External account binding: key id and base64url HMAC key. */
  readonly eab?: { readonly kid: string; readonly hmacKey: string };
}

/**
 * The real CA client.
 *
 * acme-client sends every request through one shared axios instance, so the trust for a
 * private CA, the request timeout and the retry policy are set on that instance (hopd runs
 * one ACME client per process). Its own retries are turned off: hopd's manager retries
 * whole orders with backoff and jitter, and counts each failure.
 *
 * @param init Directory, account key, trust and EAB.
 * @returns The CA.
 */
export function acmeClientCa(init: AcmeClientCaInit): AcmeCa {
  const defaults = acme.axios.defaults as typeof acme.axios.defaults & {
    acmeSettings: { retryMaxAttempts: number };
  };
  defaults.acmeSettings.retryMaxAttempts = 0;
  defaults.timeout = ACME_HTTP_TIMEOUT_MS;
  defaults.adapter = keepNetworkErrors(getAdapter("http"));
  if (init.caCertificates !== undefined) {
    defaults.httpsAgent = new https.Agent({ ca: init.caCertificates });
  }
  acme.setLogger((message: string) => log.debug("acme-client: {message}", { message }));
  const client = new acme.Client({
    directoryUrl: init.directoryUrl,
    accountKey: init.accountKey,
    ...(init.eab === undefined ? {} : { externalAccountBinding: { ...init.eab } }),
  });
  return {
    async order(request) {
      const key = newPrivateKey();
      const [, csr] = await acme.crypto.createCsr(
        { commonName: request.domains[0], altNames: [...request.domains] },
        key,
      );
      const cert = await client.auto({
        csr,
        ...(request.email === undefined ? {} : { email: request.email }),
        termsOfServiceAgreed: true,
        // acme-client's own pre-check fetches the challenge through the system resolver,
        // which a relay behind NAT or split DNS may not share with the CA: the CA decides.
        skipChallengeVerification: true,
        challengePriority: ["http-01"],
        challengeCreateFn: (_authz, challenge, keyAuthorization) => {
          request.challenges.set(challenge.token, keyAuthorization);
          return Promise.resolve();
        },
        challengeRemoveFn: (_authz, challenge) => {
          request.challenges.delete(challenge.token);
          return Promise.resolve();
        },
      });
      return { cert, key };
    },
  };
}
