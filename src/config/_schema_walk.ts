/**
 * Small helpers to read CONFIG_SCHEMA's shape (sections, keys, defaults, docs) without
 * repeating it: the example generator and the env overlay both need it.
 *
 * @module
 */
import type { z } from "zod";
import { CONFIG_SCHEMA } from "./schema.ts";

/** What a config key holds, as far as text input (env vars) is concerned. */
export type KeyKind = "string" | "number" | "array" | "boolean";

/** One key of one section, read off the schema. */
export interface KeyInfo {
  readonly section: string;
  readonly key: string;
  readonly kind: KeyKind;
  readonly defaultValue: unknown;
  readonly doc: string;
  readonly choices?: readonly string[];
}

// deno-lint-ignore no-explicit-any
type AnySchema = z.ZodType & { def: any; description?: string };

function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  while (current.def.innerType !== undefined || current.def.in !== undefined) {
    current = (current.def.innerType ?? current.def.in) as AnySchema;
  }
  return current;
}

function kindOf(schema: AnySchema): { kind: KeyKind; choices?: readonly string[] } {
  const inner = unwrap(schema);
  switch (inner.def.type) {
    case "number":
      return { kind: "number" };
    case "array":
      return { kind: "array" };
    case "boolean":
      return { kind: "boolean" };
    case "enum":
      return { kind: "string", choices: Object.values(inner.def.entries) as string[] };
    default:
      return { kind: "string" };
  }
}

/** Every section name, in file order. */
export function sectionNames(): string[] {
  return Object.keys(CONFIG_SCHEMA.shape);
}

/** Every key of every section, in file order. */
export function configKeys(): KeyInfo[] {
  const keys: KeyInfo[] = [];
  for (const [section, sectionSchema] of Object.entries(CONFIG_SCHEMA.shape)) {
    const shape = (unwrap(sectionSchema as AnySchema) as unknown as z.ZodObject).shape;
    for (const [key, keySchema] of Object.entries(shape)) {
      const schema = keySchema as AnySchema;
      keys.push({
        section,
        key,
        ...kindOf(schema),
        defaultValue: schema.def.defaultValue,
        doc: schema.description ?? "",
      });
    }
  }
  return keys;
}
