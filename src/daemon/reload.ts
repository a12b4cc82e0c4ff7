/**
 * A reload (SIGHUP) in two steps, so that it applies everything or nothing:
 * {@linkcode prepareReload} reads and checks all of it (the config file, the limiter's new
 * limits and access lists, the admin token file, the TLS certificate and key) and changes
 * nothing; only when all of that passed does {@linkcode applyReload} hand each part to its
 * component, by steps that cannot fail on checked input. A file that cannot be read, or a
 * value the limiter would refuse, leaves the node exactly as it was.
 *
 * Sections that take effect only at the next restart are compared and named in a warning.
 *
 * @example
 * ```ts ignore
 * const plan = await prepareReload({ loadConfig, tls: config.tls }); // throws: nothing changed
 * const parts = applyReload(plan, { limiter, settings, host });      // ["limits", ...]
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ResolvedConfig, ResolvedTlsConfig } from "../config/mod.ts";
import { type Host, type LoadedCertificate, readCertificate } from "../host/mod.ts";
import {
  type Limiter,
  limiterConfigFrom,
  type ResolvedLimiterConfig,
  validateLimiterConfig,
} from "../ratelimit/mod.ts";
import { readAdminTokenFor } from "./admin_token.ts";
import type { Settings } from "./settings.ts";

const log = getLogger(["hopd", "daemon"]);

/** Config sections that take effect only at the next restart. */
export const RESTART_ONLY_SECTIONS = [
  "node",
  "connections",
  "http",
  "relay",
  "tls",
  "acme",
  "federation",
  "policy",
] as const;

/** What a reload reads. */
export interface ReloadSources {
  /** Loads the config again; absent = only the certificate is re-read. */
  readonly loadConfig?: () => Promise<ResolvedConfig>;
  /** `[tls]` as the node started with it (the files to re-read). */
  readonly tls: ResolvedTlsConfig;
  /** Reads a certificate and key. @default readCertificate */
  readonly readCertificate?: (certFile: string, keyFile: string) => Promise<LoadedCertificate>;
}

/** A reload whose every part was read and checked. */
export interface ReloadPlan {
  /** The new config, with what it resolves to; absent without a config loader. */
  readonly config?: {
    readonly next: ResolvedConfig;
    readonly limiter: ResolvedLimiterConfig;
    readonly adminToken: string | undefined;
  };
  /** The re-read certificate; absent without `[tls]` files. */
  readonly certificate?: LoadedCertificate;
}

/** What a reload changes. */
export interface ReloadTargets {
  readonly limiter: Pick<Limiter, "reload">;
  readonly settings: Settings;
  readonly host: Pick<Host, "useCertificate">;
}

/**
 * Reads and checks everything a reload would apply; changes nothing.
 *
 * @param sources Where to read.
 * @returns The checked plan.
 * @throws {import("../errors.ts").ConfigError} When the config, the admin token or the
 * certificate cannot be loaded.
 * @throws {RangeError} When the limiter would refuse the new limits or access lists.
 */
export async function prepareReload(sources: ReloadSources): Promise<ReloadPlan> {
  let config: ReloadPlan["config"];
  if (sources.loadConfig !== undefined) {
    const next = await sources.loadConfig();
    const limiter = limiterConfigFrom(next);
    validateLimiterConfig(limiter);
    config = { next, limiter, adminToken: await readAdminTokenFor(next) };
  }
  const { certFile, keyFile } = sources.tls;
  const certificate = certFile === undefined || keyFile === undefined
    ? undefined
    : await (sources.readCertificate ?? readCertificate)(certFile, keyFile);
  return {
    ...(config === undefined ? {} : { config }),
    ...(certificate === undefined ? {} : { certificate }),
  };
}

/**
 * Applies a checked plan to every component it concerns.
 *
 * @param plan From {@linkcode prepareReload}.
 * @param targets The components.
 * @returns What was reloaded, for the log line.
 */
export function applyReload(plan: ReloadPlan, targets: ReloadTargets): string[] {
  const parts: string[] = [];
  if (plan.config !== undefined) {
    const { next, limiter, adminToken } = plan.config;
    // First: the only step that validates (again, as prepareReload did), so even a throw
    // here would leave everything else as it was.
    targets.limiter.reload(limiter);
    warnAboutRestartOnlyChanges(targets.settings.config, next);
    targets.settings.replace(next, adminToken);
    parts.push("limits", "access lists", "admin token");
  }
  if (plan.certificate !== undefined) {
    targets.host.useCertificate(plan.certificate);
    parts.push(
      `TLS certificate (valid until ${new Date(plan.certificate.notAfterMs).toISOString()})`,
    );
  }
  return parts;
}

/**
 * The restart-only sections that differ between two configs.
 *
 * @param current The config in use.
 * @param next The new config.
 * @returns The section names, in {@linkcode RESTART_ONLY_SECTIONS} order.
 */
export function restartOnlyChanges(current: ResolvedConfig, next: ResolvedConfig): string[] {
  return RESTART_ONLY_SECTIONS.filter((section) =>
    JSON.stringify(next[section]) !== JSON.stringify(current[section])
  );
}

function warnAboutRestartOnlyChanges(current: ResolvedConfig, next: ResolvedConfig): void {
  const changed = restartOnlyChanges(current, next);
  if (changed.length > 0) {
    log.warn("Config sections {sections} changed: they take effect at the next restart", {
      sections: changed.join(", "),
    });
  }
}
