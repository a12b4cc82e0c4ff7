/**
 * hopd's version, read from deno.json at build time so there is one place to bump it.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** hopd's semantic version. */
export const VERSION: string = denoJson.version;
