/**
 * Loading the config: embedded defaults, then a TOML file, then `HOPD_<SECTION>_<KEY>`
 * environment variables, then CLI overrides, validated by the schema once and resolved.
 *
 * @module
 */

import { parse as parseToml } from "smol-toml";
import type { z } from "zod";
import { ConfigError } from "../errors.ts";
import { configKeys, type KeyInfo, sectionNames } from "./_schema_walk.ts";
import { ENV_PREFIX, SYSTEMD_STATE_DIRECTORY_ENV } from "./constants.ts";
import { resolveConfig, type ResolvedConfig } from "./resolve.ts";
import { CONFIG_SCHEMA } from "./schema.ts";

/** Raw config values as a file, env or flags give them: `{ section: { key: value } }`. */
export type RawConfig = Record<string, Record<string, unknown>>;

/** What {@linkcode loadConfig} reads. Every field is optional. */
export interface LoadConfigOptions {
  /** Path of a TOML config file. @default no file: embedded defaults */
  file?: string;
  /** Environment to read `HOPD_*` variables from. @default no environment */
  env?: Readonly<Record<string, string>>;
  /** Values from CLI flags, in file form (`{ node: { listen: [...] } }`); they win over all. */
  overrides?: RawConfig;
  /** Names the source of an override in error messages. @default "command-line flag" */
  overrideLabel?: (section: string, key: string) => string;
  /** Reads a file as text. @default Deno.readTextFile */
  readTextFile?: (path: string) => Promise<string>;
}

/**
 * The embedded defaults, resolved: what hopd runs with when no file, variable or flag sets a
 * key. Components and their tests take their defaults from here (the schema), never from a
 * table of their own.
 *
 * @returns The resolved, frozen default config.
 */
export function defaultConfig(): ResolvedConfig {
  return resolveConfig(CONFIG_SCHEMA.parse({}));
}

/**
 * Loads the config once: TOML file, then `HOPD_*` environment variables, then flags;
 * validates the merge and resolves it into the read-only config the code uses.
 * This is the only place config is read.
 *
 * @param options Where to read from.
 * @returns The resolved, frozen config.
 * @throws {ConfigError} When a file cannot be read or parsed, or a key is unknown, of the
 * wrong type or out of range; the message names the key path, the value, what is allowed
 * and where the value came from.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const sources = new Map<string, string>();
  const raw: RawConfig = {};
  if (options.file !== undefined) {
    const fileRaw = await readConfigFile(options.file, options.readTextFile ?? Deno.readTextFile);
    overlay(raw, { values: fileRaw, label: () => options.file! }, sources);
  }
  if (options.env !== undefined) {
    overlay(raw, { values: envToRaw(options.env), label: envName }, sources);
  }
  if (options.overrides !== undefined) {
    const label = options.overrideLabel ?? (() => "command-line flag");
    overlay(raw, { values: options.overrides, label }, sources);
  }
  const stateDirectory = options.env?.[SYSTEMD_STATE_DIRECTORY_ENV];
  const node: unknown = raw.node;
  // A non-table [node] is left alone so validation reports it (not a TypeError here).
  if (stateDirectory && (node === undefined || (isTable(node) && node.data_dir === undefined))) {
    (raw.node ??= {}).data_dir = stateDirectory;
  }
  const result = CONFIG_SCHEMA.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(describeIssue(result.error.issues[0]!, raw, sources));
  }
  return resolveConfig(result.data);
}

async function readConfigFile(
  path: string,
  readTextFile: (path: string) => Promise<string>,
): Promise<RawConfig> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "it does not exist" : String(error);
    throw new ConfigError(`Cannot load config file '${path}' as ${reason}`, { cause: error });
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseToml(text);
  } catch (error) {
    throw new ConfigError(
      `Cannot load config file '${path}' as it is not valid TOML: ${tomlProblem(error)}`,
      { cause: error },
    );
  }
  // smol-toml returns null-prototype objects; rebuild plain ones so zod and spreads behave.
  return JSON.parse(JSON.stringify(parsed));
}

// smol-toml's TomlError: "Invalid TOML document: <what>\n\n<code block>", with the position.
function tomlProblem(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const what = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
  const { line, column } = error as Error & { line?: unknown; column?: unknown };
  return typeof line === "number" && typeof column === "number"
    ? `line ${line}, column ${column}: ${what}`
    : what;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** One source of config values (file, environment, flags) and how errors name it. */
interface ConfigLayer {
  readonly values: Record<string, unknown>;
  label(section: string, key: string): string;
}

// Copies a layer's values over the target, noting each key's source for error messages.
function overlay(target: RawConfig, layer: ConfigLayer, sources: Map<string, string>): void {
  const { label } = layer;
  for (const [section, value] of Object.entries(layer.values)) {
    if (!isTable(value)) {
      // Not a table: keep it so validation reports it with its path.
      (target as Record<string, unknown>)[section] = value;
      sources.set(section, label(section, ""));
      continue;
    }
    const into: unknown = (target[section] ??= {});
    // An earlier source made this section a non-table: keep that one for validation to report.
    if (!isTable(into)) continue;
    // The section's own source, for errors about the section itself (an unknown section).
    sources.set(section, label(section, ""));
    for (const [key, keyValue] of Object.entries(value)) {
      into[key] = keyValue;
      sources.set(`${section}.${key}`, label(section, key));
    }
  }
}

function envName(section: string, key: string): string {
  return `${ENV_PREFIX}${section}_${key}`.toUpperCase();
}

function envToRaw(env: Readonly<Record<string, string>>): RawConfig {
  const raw: RawConfig = {};
  const known = new Map(configKeys().map((info) => [envName(info.section, info.key), info]));
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX)) continue;
    const info = known.get(name);
    if (info === undefined) {
      throw new ConfigError(
        `Cannot load config as environment variable '${name}' is not a known key: ` +
          `use HOPD_<SECTION>_<KEY> for a key shown by 'hopd config example'`,
      );
    }
    (raw[info.section] ??= {})[info.key] = envValue(info, text);
  }
  return raw;
}

function envValue(info: KeyInfo, text: string): unknown {
  switch (info.kind) {
    case "number":
      // Leave non-numbers as text so validation names the key and the value.
      return text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text;
    case "boolean":
      return text === "true" ? true : text === "false" ? false : text;
    case "array":
      return text.split(",").map((item) => item.trim()).filter((item) => item !== "");
    default:
      return text;
  }
}

function valueAt(raw: RawConfig, path: readonly PropertyKey[]): unknown {
  let current: unknown = raw;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: RawConfig,
  sources: Map<string, string>,
): string {
  if (issue.code === "unrecognized_keys") {
    const parent = issue.path.map(String).join(".");
    const key = issue.keys[0]!;
    if (parent === "") {
      return `Cannot load config as '${key}' is not a known section (from ${
        sources.get(key) ?? "input"
      }): known sections are ${sectionNames().join(", ")}`;
    }
    const known = configKeys().filter((info) => info.section === parent).map((info) => info.key);
    return `Cannot load config as '${parent}.${key}' is not a known key (from ${
      sources.get(`${parent}.${key}`) ?? "input"
    }): known keys in [${parent}] are ${known.join(", ")}`;
  }
  const path = issue.path.map(String);
  const keyPath = path.slice(0, 2).join(".");
  const value = valueAt(raw, issue.path);
  const from = sources.get(keyPath) ?? sources.get(path[0] ?? "") ?? "input";
  const current = value === undefined
    ? "it is not set"
    : `current value is ${JSON.stringify(value)} (from ${from})`;
  return `Cannot load config as '${path.join(".")}' ${allowed(issue)}: ${current}`;
}

function allowed(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.expected === "object" ? "must be a table" : `must be of type ${issue.expected}`;
    case "too_small":
      return issue.origin === "string" || issue.origin === "array"
        ? "must not be empty"
        : `must be at least ${issue.minimum}`;
    case "too_big":
      return `must be at most ${issue.maximum}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message;
  }
}
