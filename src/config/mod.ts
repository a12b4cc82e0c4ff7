/**
 * hopd's configuration: one TOML file, then `HOPD_<SECTION>_<KEY>` environment variables,
 * then CLI flags, validated once into a read-only {@linkcode ResolvedConfig}. This is the
 * only component that reads configuration; it knows no other component.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./mod.ts";
 * const config = await loadConfig({ env: { HOPD_HTTP_LISTEN: "127.0.0.1:9090" } });
 * config.http.port; // 9090
 * ```
 *
 * @module
 */

export { defaultConfig, loadConfig } from "./load_config.ts";
export type { LoadConfigOptions, RawConfig } from "./load_config.ts";
export type {
  ResolvedAccessConfig,
  ResolvedAcmeConfig,
  ResolvedAdminConfig,
  ResolvedAutonatConfig,
  ResolvedConfig,
  ResolvedConnectionsConfig,
  ResolvedFederationConfig,
  ResolvedHostPort,
  ResolvedHttpConfig,
  ResolvedLimitsConfig,
  ResolvedLogConfig,
  ResolvedNodeConfig,
  ResolvedPolicyConfig,
  ResolvedRate,
  ResolvedRelaySectionConfig,
  ResolvedTlsConfig,
} from "./resolve.ts";
export { exampleConfigToml } from "./example.ts";
export {
  ACME_CHALLENGES,
  BALANCER_ALGORITHMS,
  LOG_FORMATS,
  LOG_LEVELS,
  POLICY_MODES,
} from "./schema.ts";
export { formatDurationMs, parseDurationMs, parseRatePerSecond, parseSizeBytes } from "./units.ts";
