/**
 * The option values `hopd health` and `hopd admin` share: the node's ops URL and a timeout,
 * each read by one rule so the two commands take the same forms.
 *
 * @module
 */

import { parseDurationMs } from "../config/units.ts";

/**
 * Reads a `--timeout`: a duration such as `"5s"`, `"1500ms"` or `"1m"`, or a bare number of
 * seconds (`"10"`, what `hopd admin --timeout` always took).
 *
 * @param text The option's value.
 * @returns Milliseconds (above 0), or undefined when `text` is neither form.
 */
export function parseTimeoutMs(text: string): number | undefined {
  const trimmed = text.trim();
  const ms = /^\d+(\.\d+)?$/.test(trimmed)
    ? Math.round(Number(trimmed) * 1000)
    : parseDurationMs(trimmed);
  return ms === undefined || ms <= 0 ? undefined : ms;
}

/** What a `--timeout` takes, for usage errors. */
export const TIMEOUT_FORMS = 'a duration such as "5s" or "1500ms", or plain seconds such as "10"';

/**
 * Reads a `--url` naming a node's ops server: `http://` or `https://` URLs, or `HOST:PORT`
 * (and `HOST:PORT/path`) without a scheme, which means `http://`.
 *
 * @param text The option's value.
 * @returns The URL, or undefined when `text` is not one.
 */
export function parseOpsUrl(text: string): URL | undefined {
  const withScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) ? text : `http://${text}`;
  try {
    const url = new URL(withScheme);
    return url.protocol === "http:" || url.protocol === "https:" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** What a `--url` takes, for usage errors. */
export const URL_FORMS =
  'an http:// or https:// URL, or HOST:PORT such as "127.0.0.1:8080" (http:// is assumed)';
