/**
 * The settings a running node may change without a restart: the admin API's auth (token,
 * remote access, body limit) and the circuit limit of allowlisted peers. The rate limits and
 * access lists live in the limiter, which reloads them itself. Every other section takes
 * effect at the next restart, and the components read it from the config they were built
 * with.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 * import { Settings } from "./settings.ts";
 * const settings = new Settings(await loadConfig({ env: {} }), undefined);
 * settings.adminAuth().allowRemote; // false
 * ```
 *
 * @module
 */

import type { ResolvedConfig } from "../config/mod.ts";
import type { AdminAuthConfig } from "../ops/mod.ts";

/** The live, reloadable settings. */
export class Settings {
  #config: ResolvedConfig;
  #adminToken: string | undefined;

  /**
   * @param config The config in use.
   * @param adminToken The token read from `admin.token_file`, if set.
   */
  constructor(config: ResolvedConfig, adminToken: string | undefined) {
    this.#config = config;
    this.#adminToken = adminToken;
  }

  /** The config most recently applied (the last successful reload, or the start). */
  get config(): ResolvedConfig {
    return this.#config;
  }

  /** The admin API's auth, as the ops routes read it per request. */
  adminAuth(): AdminAuthConfig {
    return {
      token: this.#adminToken,
      allowRemote: this.#config.admin.allowRemote,
      maxBodyBytes: this.#config.admin.maxBodyBytes,
    };
  }

  /** `access.allowlist_max_circuits_per_peer` (0 = unlimited). */
  get allowlistMaxCircuitsPerPeer(): number {
    return this.#config.access.allowlistMaxCircuitsPerPeer;
  }

  /**
   * Replaces the settings (a reload that passed every check).
   *
   * @param config The new config.
   * @param adminToken The new token.
   */
  replace(config: ResolvedConfig, adminToken: string | undefined): void {
    this.#config = config;
    this.#adminToken = adminToken;
  }
}
