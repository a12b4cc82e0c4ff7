/**
 * Alerts raised by policies: always to the log and `hopd_alerts_total`, and when configured
 * to a webhook (the alert as JSON) and to Alertmanager's /api/v2/alerts. Deliveries come
 * from a bounded queue (the oldest is dropped when full) and are retried with exponential
 * backoff and full jitter, so a sink that is down never blocks a tick.
 *
 * @module
 */

import { abortAfter, type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import { getLogger } from "@logtape/logtape";
import type { PolicyMetrics } from "./metrics.ts";

const log = getLogger(["hopd", "policy", "alerts"]);

/** One alert. */
export interface Alert {
  readonly severity: "info" | "warning" | "critical";
  readonly summary: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The policy that raised it. */
  readonly policy: string;
  readonly time: string;
}

/** Where alerts go and how hard to try. */
export interface AlertSinksConfig {
  readonly webhook?: string;
  readonly alertmanagerUrl?: string;
  readonly queueSize: number;
  readonly retries: number;
  /** Instance label (the node's peer ID). */
  readonly instance: string;
  /** First retry delay; doubles per attempt up to 30 s. @default 500 */
  readonly baseDelayMs?: number;
  /** For tests. */
  readonly fetch?: typeof fetch;
  /** Retry delays and request timeouts. @default SYSTEM_CLOCK */
  readonly clock?: Clock;
}

interface Delivery {
  readonly sink: "webhook" | "alertmanager";
  readonly alert: Alert;
  attempt: number;
}

const MAX_DELAY_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;
/** How long an alert stays firing in Alertmanager unless raised again. */
const ALERT_TTL_MS = 15 * 60_000;

/** Sends alerts to the log, metrics and the configured sinks. */
export class AlertDispatcher {
  readonly #config: AlertSinksConfig;
  readonly #metrics: PolicyMetrics;
  readonly #queue: Delivery[] = [];
  #running = false;
  #closed = false;
  readonly #clock: Clock;
  #timer: TimerId | undefined;
  #wake: (() => void) | undefined;
  #idle: PromiseWithResolvers<void> | undefined;

  constructor(config: AlertSinksConfig, metrics: PolicyMetrics) {
    this.#config = config;
    this.#metrics = metrics;
    this.#clock = config.clock ?? SYSTEM_CLOCK;
  }

  /** Deliveries waiting. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Raises an alert. */
  send(alert: Alert): void {
    this.#metrics.alerts.inc({ severity: alert.severity });
    const level = alert.severity === "critical"
      ? "error"
      : alert.severity === "warning"
      ? "warn"
      : "info";
    log[level]("Alert from {policy}: {summary}", { ...alert });
    if (this.#config.webhook !== undefined) this.#enqueue({ sink: "webhook", alert, attempt: 0 });
    if (this.#config.alertmanagerUrl !== undefined) {
      this.#enqueue({ sink: "alertmanager", alert, attempt: 0 });
    }
  }

  /** Stops delivering (what is queued is dropped and counted). */
  /**
   * Resolves once nothing is queued or being delivered: every alert sent so far was
   * delivered, or given up on and counted. At once when idle or closed.
   */
  idle(): Promise<void> {
    if (!this.#running || this.#closed) return Promise.resolve();
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#wake?.();
    for (const delivery of this.#queue.splice(0)) {
      this.#metrics.alertDeliveries.inc({ sink: delivery.sink, result: "dropped" });
    }
  }

  #enqueue(delivery: Delivery): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#config.queueSize) {
      const dropped = this.#queue.shift()!;
      this.#metrics.alertDeliveries.inc({ sink: dropped.sink, result: "dropped" });
      log.warn("Alert queue full ({size}): dropped the oldest alert", {
        size: this.#config.queueSize,
      });
    }
    this.#queue.push(delivery);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (!this.#closed && this.#queue.length > 0) {
      const delivery = this.#queue.shift()!;
      const error = await this.#deliver(delivery);
      if (error === undefined) {
        this.#metrics.alertDeliveries.inc({ sink: delivery.sink, result: "ok" });
        continue;
      }
      this.#metrics.alertDeliveries.inc({ sink: delivery.sink, result: "error" });
      delivery.attempt++;
      if (delivery.attempt >= this.#config.retries) {
        log.error("Alert delivery to {sink} failed {attempts} times, giving up: {error}", {
          sink: delivery.sink,
          attempts: delivery.attempt,
          error,
        });
        this.#metrics.alertDeliveries.inc({ sink: delivery.sink, result: "dropped" });
        continue;
      }
      log.warn("Alert delivery to {sink} failed ({error}); retrying", {
        sink: delivery.sink,
        error,
      });
      this.#queue.unshift(delivery);
      await this.#sleep(this.#backoffMs(delivery.attempt));
    }
    this.#running = false;
    this.#idle?.resolve();
    this.#idle = undefined;
  }

  // Full jitter: a random delay up to base × 2^attempt, capped.
  #backoffMs(attempt: number): number {
    const base = this.#config.baseDelayMs ?? 500;
    return Math.random() * Math.min(MAX_DELAY_MS, base * 2 ** (attempt - 1));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = this.#clock.setTimeout(resolve, ms);
    });
  }

  async #deliver(delivery: Delivery): Promise<string | undefined> {
    const { alert } = delivery;
    const doFetch = this.#config.fetch ?? fetch;
    const url = delivery.sink === "webhook"
      ? this.#config.webhook!
      : new URL("/api/v2/alerts", this.#config.alertmanagerUrl!).href;
    const body = delivery.sink === "webhook" ? { ...alert, instance: this.#config.instance } : [{
      labels: {
        alertname: alert.labels.alertname ?? `hopd_${alert.policy}`,
        severity: alert.severity,
        policy: alert.policy,
        instance: this.#config.instance,
        ...alert.labels,
      },
      annotations: { summary: alert.summary },
      startsAt: alert.time,
      endsAt: new Date(Date.parse(alert.time) + ALERT_TTL_MS).toISOString(),
    }];
    const timeout = abortAfter(this.#clock, REQUEST_TIMEOUT_MS);
    try {
      const response = await doFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: timeout.signal,
      });
      await response.body?.cancel();
      return response.ok ? undefined : `HTTP ${response.status}`;
    } catch (error) {
      return (error as Error).message;
    } finally {
      timeout.clear();
    }
  }
}
