/**
 * Keeps a valid certificate for `acme.domains`: loads the stored one at start (a restart
 * never orders while it is valid and not due), orders when there is none, when it is due
 * (`renew_before`), or when the domains or the directory changed, and hands each new one
 * to `onCertificate` (the host's live swap). A failed order keeps the old certificate,
 * is counted and logged once, and is retried with exponential backoff and jitter; the
 * relay never stops because the CA is down.
 *
 * Time comes from the injected clock and timers, so tests drive renewals and retries
 * without sleeping.
 *
 * @module
 */

import type { Clock, TimerId } from "../clock/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { MetricsRegistry } from "../metrics/mod.ts";
import type { ResolvedAcmeConfig } from "../config/mod.ts";
import { type LoadedCertificate, parseCertificate } from "../host/mod.ts";
import type { AcmeCa } from "./ca_client.ts";
import type { CertificateStore } from "./certificate_store.ts";
import { ACME_RECHECK_MAX_MS } from "./constants.ts";
import type { ChallengeResponder } from "./http01_responder.ts";
import { type AcmeMetrics, registerAcmeMetrics } from "./metrics.ts";
import { renewAtMs, retryDelayMs } from "./schedule.ts";

const log = getLogger(["hopd", "acme"]);

/** What the manager reports on `/v1/status`. */
export interface AcmeStatus {
  /** The CA's directory URL. */
  readonly directory: string;
  /** The names the certificate covers. */
  readonly domains: readonly string[];
  /** The challenge type the CA is asked for. */
  readonly challenge: string;
  /** "ordering" while an order runs, "waiting" between orders, "stopped". */
  readonly state: "ordering" | "waiting" | "stopped";
  /** Failed orders since the last success (the retry backoff grows with it). */
  readonly consecutiveFailures: number;
  /** ISO time of the next planned order (renewal or retry). */
  readonly nextOrderAt?: string;
  /** Why the last order failed. */
  readonly lastError?: string;
  /** When the last order failed, ISO 8601. */
  readonly lastErrorAt?: string;
  /** When the current certificate was issued, ISO 8601. */
  readonly lastIssuedAt?: string;
}

/** The http-01 server as the manager drives it. */
export interface ChallengeServer extends ChallengeResponder {
  /** Starts answering on `listen` (port 0 picks one); returns the port it listens on. */
  start(listen: { readonly hostname: string; readonly port: number }): number;
  /** Stops answering. */
  stop(): Promise<void>;
}

/** What the manager needs. */
export interface AcmeManagerComponents {
  /** Where the account key and certificate are kept. */
  readonly store: CertificateStore;
  /** Builds the CA client from the account key. */
  readonly ca: (accountKey: string) => AcmeCa | Promise<AcmeCa>;
  /** The http-01 server the CA's checks reach. */
  readonly challenges: ChallengeServer;
  /** Where the ACME metrics are registered. */
  readonly registry: MetricsRegistry;
  /** Renewal times and the certificate's expiry are judged by it; retries run on its timers. */
  readonly clock: Clock;
  /** Told about every new certificate (the host serves it from then on). */
  readonly onCertificate: (certificate: LoadedCertificate) => void;
  /**
   * Jitter of renewal and retry times, in [0, 1).
   *
   * @default Math.random
   */
  readonly random?: () => number;
}

/** Orders, stores and renews the certificate. */
export class AcmeManager {
  readonly #config: ResolvedAcmeConfig;
  readonly #c: AcmeManagerComponents;
  readonly #metrics: AcmeMetrics;
  #ca: AcmeCa | undefined;
  #current: { certificate: LoadedCertificate; directoryUrl: string } | undefined;
  #timer: TimerId | undefined;
  #nextOrderAtMs: number | undefined;
  #ordering: Promise<void> | undefined;
  #running = false;
  #failures = 0;
  #lastError: { message: string; atMs: number } | undefined;
  #lastIssuedAtMs: number | undefined;

  /**
   * Creates the manager; nothing is ordered before `start()`.
   *
   * @param config `[acme]`, resolved.
   * @param components Store, CA, challenge server, clock, metrics registry.
   */
  constructor(config: ResolvedAcmeConfig, components: AcmeManagerComponents) {
    this.#config = config;
    this.#c = components;
    this.#metrics = registerAcmeMetrics(components.registry, {
      consecutiveFailures: () => this.#failures,
      nextOrderAtMs: () => this.#nextOrderAtMs,
    });
  }

  /**
   * Reads the stored certificate. One that cannot be read, or has expired, is ignored
   * (and a new one ordered at start).
   *
   * @returns The stored certificate to serve from the start, if usable.
   */
  async load(): Promise<LoadedCertificate | undefined> {
    const stored = await this.#c.store.certificate().catch((error) => {
      log.warn("Cannot read the stored ACME certificate, ordering a new one: {message}", {
        message: (error as Error).message,
      });
      return undefined;
    });
    if (stored === undefined) return undefined;
    let certificate: LoadedCertificate;
    try {
      certificate = parseCertificate(stored.cert, stored.key, "acme");
    } catch (error) {
      log.warn("The stored ACME certificate is unusable, ordering a new one: {message}", {
        message: (error as Error).message,
      });
      return undefined;
    }
    if (certificate.notAfterMs <= this.#c.clock.nowMs()) return undefined;
    this.#current = { certificate, directoryUrl: stored.directoryUrl };
    log.info("Loaded the ACME certificate for {domains}, valid until {notAfter}", {
      domains: certificate.domains.join(", "),
      notAfter: new Date(certificate.notAfterMs).toISOString(),
    });
    return certificate;
  }

  /**
   * Binds the http-01 server, loads or creates the account key and plans the first order
   * (now, when there is no certificate or it is due). Orders run in the background.
   *
   * @throws When the http-01 address cannot be bound or the account key cannot be stored.
   */
  async start(): Promise<void> {
    const port = this.#c.challenges.start(this.#config.httpListen);
    try {
      const account = await this.#c.store.accountKey();
      if (account.created) {
        log.info("Created the ACME account key in {dir}", { dir: this.#c.store.dir });
      }
      this.#ca = await this.#c.ca(account.key);
    } catch (error) {
      await this.#c.challenges.stop();
      throw error;
    }
    log.info("ACME: answering http-01 challenges on {address}", {
      address: `${this.#config.httpListen.hostname}:${port}`,
    });
    this.#running = true;
    this.#plan(this.#c.clock.nowMs());
  }

  /**
   * Stops planning orders and the http-01 server. An order in flight is not waited for (a
   * CA that hangs must not hold up a shutdown): its result is dropped.
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#c.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextOrderAtMs = undefined;
    await this.#c.challenges.stop();
  }

  /** Resolves when no order is in flight (tests wait on it instead of sleeping). */
  async settled(): Promise<void> {
    await this.#ordering;
  }

  /** The certificate served now, if any. */
  certificate(): LoadedCertificate | undefined {
    return this.#current?.certificate;
  }

  /** The manager's state for `/v1/status`. */
  status(): AcmeStatus {
    const iso = (ms: number | undefined) => ms === undefined ? {} : new Date(ms).toISOString();
    return {
      directory: this.#config.directoryUrl,
      domains: this.#config.domains,
      challenge: this.#config.challenge,
      state: !this.#running ? "stopped" : this.#ordering === undefined ? "waiting" : "ordering",
      consecutiveFailures: this.#failures,
      ...(this.#nextOrderAtMs === undefined ? {} : { nextOrderAt: iso(this.#nextOrderAtMs) }),
      ...(this.#lastError === undefined ? {} : {
        lastError: this.#lastError.message,
        lastErrorAt: iso(this.#lastError.atMs),
      }),
      ...(this.#lastIssuedAtMs === undefined ? {} : { lastIssuedAt: iso(this.#lastIssuedAtMs) }),
    } as AcmeStatus;
  }

  /** When the certificate in hand must be replaced (now when there is none or it is wrong). */
  #dueAtMs(): number {
    const current = this.#current;
    if (current === undefined || current.directoryUrl !== this.#config.directoryUrl) return 0;
    const covered = new Set(current.certificate.domains);
    if (!this.#config.domains.every((domain) => covered.has(domain))) return 0;
    return renewAtMs(current.certificate, this.#config.renewBeforeMs);
  }

  /** Sets the timer for the next look: at `atMs`, at most ACME_RECHECK_MAX_MS away. */
  #plan(atMs: number): void {
    if (!this.#running) return;
    this.#c.clock.clearTimeout(this.#timer);
    this.#nextOrderAtMs = atMs;
    const delayMs = Math.max(0, Math.min(atMs - this.#c.clock.nowMs(), ACME_RECHECK_MAX_MS));
    this.#timer = this.#c.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#tick();
    }, delayMs);
  }

  #tick(): void {
    if (!this.#running || this.#ordering !== undefined) return;
    const nowMs = this.#c.clock.nowMs();
    const failing = this.#failures > 0 && this.#nextOrderAtMs !== undefined;
    const dueAtMs = failing ? this.#nextOrderAtMs! : this.#dueAtMs();
    if (nowMs < dueAtMs) {
      this.#plan(dueAtMs);
      return;
    }
    this.#nextOrderAtMs = undefined;
    this.#ordering = this.#order().finally(() => {
      this.#ordering = undefined;
    });
  }

  async #order(): Promise<void> {
    const renewal = this.#current !== undefined;
    const domains = this.#config.domains;
    log.info("ACME: ordering a certificate for {domains} from {directory}", {
      domains: domains.join(", "),
      directory: this.#config.directoryUrl,
      renewal,
    });
    let certificate: LoadedCertificate;
    try {
      const issued = await this.#ca!.order({
        domains,
        ...(this.#config.email === undefined ? {} : { email: this.#config.email }),
        challenges: this.#c.challenges,
      });
      certificate = parseCertificate(issued.cert, issued.key, "acme");
      const missing = domains.filter((domain) => !certificate.domains.includes(domain));
      if (missing.length > 0) {
        throw new Error(`the CA's certificate does not cover ${missing.join(", ")}`);
      }
      await this.#c.store.saveCertificate({
        cert: issued.cert,
        key: issued.key,
        directoryUrl: this.#config.directoryUrl,
      });
    } catch (error) {
      if (this.#running) this.#failed(error as Error, renewal);
      return;
    }
    if (!this.#running) return;
    this.#c.onCertificate(certificate);
    this.#current = { certificate, directoryUrl: this.#config.directoryUrl };
    this.#failures = 0;
    this.#lastIssuedAtMs = this.#c.clock.nowMs();
    this.#metrics.orders.inc({ result: "ok" });
    if (renewal) this.#metrics.renewals.inc({ result: "ok" });
    const renewAt = this.#dueAtMs();
    log.info(
      "ACME: new certificate for {domains} from {issuer}, valid until {notAfter}, renewing at {renewAt}",
      {
        domains: certificate.domains.join(", "),
        issuer: certificate.issuer,
        notAfter: new Date(certificate.notAfterMs).toISOString(),
        renewAt: new Date(renewAt).toISOString(),
      },
    );
    this.#plan(renewAt);
  }

  #failed(error: Error, renewal: boolean): void {
    this.#failures++;
    const nowMs = this.#c.clock.nowMs();
    this.#lastError = { message: error.message, atMs: nowMs };
    this.#metrics.orders.inc({ result: "error" });
    if (renewal) this.#metrics.renewals.inc({ result: "error" });
    const retryAtMs = nowMs + retryDelayMs(this.#failures, this.#c.random ?? Math.random);
    const current = this.#current?.certificate;
    log.error(
      "ACME order {failures} in a row failed: {message}; retrying at {retryAt}" +
        (current === undefined
          ? " (no certificate yet: TLS WebSocket handshakes fail until one is issued)"
          : ", serving the old certificate (valid until {notAfter}) meanwhile"),
      {
        failures: this.#failures,
        message: error.message,
        retryAt: new Date(retryAtMs).toISOString(),
        ...(current === undefined ? {} : { notAfter: new Date(current.notAfterMs).toISOString() }),
      },
    );
    this.#plan(retryAtMs);
  }
}
