/**
 * `hopd config example`: a complete, commented TOML config with every key at its default,
 * generated from the schema so it cannot drift from what the loader accepts.
 *
 * @module
 */

import { configKeys } from "./_schema_walk.ts";

function tomlValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

/**
 * Renders a complete, commented TOML config with every key set to its default.
 * `hopd config example` prints it; loading it yields the embedded defaults.
 *
 * @returns The TOML text.
 */
export function exampleConfigToml(): string {
  const lines = [
    "# hopd configuration. Every key is shown with its default; delete what you do not change.",
    "# Precedence: this file, then HOPD_<SECTION>_<KEY> environment variables, then CLI flags.",
    '# Durations: "500ms", "90s", "2m", "1h". Sizes: "4096", "128KiB", "10MB" ("0" = unlimited).',
  ];
  let section = "";
  for (const info of configKeys()) {
    if (info.section !== section) {
      section = info.section;
      lines.push("", `[${section}]`);
    }
    const choices = info.choices ? ` One of: ${info.choices.join(", ")}.` : "";
    const env = `HOPD_${info.section}_${info.key}`.toUpperCase();
    lines.push(`# ${info.doc}${choices} (env ${env})`);
    lines.push(`${info.key} = ${tomlValue(info.defaultValue)}`);
  }
  return lines.join("\n") + "\n";
}
