/**
 * `GET /`: the status page, one self-contained HTML document (status_page.html with
 * status_page.css and one script, status_page_model.js then status_page.js, inlined; no
 * external assets) that polls the public
 * read-only routes (/v1/status, /v1/federation, /v1/policies, /v1/decisions) and renders
 * them. It carries no secrets: it shows what those routes show to anyone who may reach
 * the ops port.
 *
 * The page is served under a strict Content-Security-Policy: `default-src 'self'`, and the
 * inline script and style allowed by their SHA-256 hashes only (computed once here), so no
 * injected markup could run script even if a value slipped past the page's text-only
 * rendering.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createRoute, z } from "@hono/zod-openapi";
import type { OpsRouteGroup } from "./_env.ts";
import css from "./status_page.css" with { type: "text" };
import template from "./status_page.html" with { type: "text" };
import main from "./status_page.js" with { type: "text" };
import model from "./status_page_model.js" with { type: "text" };

/** The page as served, and the CSP that lets its inline script and style run. */
export interface StatusPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
}

/** The import of the model in status_page.js, dropped when both are inlined as one script. */
const MODEL_IMPORT = /^import \{[^}]*\} from "\.\/status_page_model\.js";\n/m;

/**
 * Joins the page's two script files into its one inline module: the model, then the DOM
 * script without its import of the model.
 *
 * @param parts The two files' text.
 * @returns The script.
 * @throws {Error} When status_page.js does not import the model as expected, or either file
 *   imports anything else (an inline script cannot).
 */
export function inlineScript(parts: { model: string; main: string }): string {
  if (!MODEL_IMPORT.test(parts.main)) {
    throw new Error("status_page.js must import status_page_model.js in one import statement");
  }
  const body = parts.main.replace(MODEL_IMPORT, "");
  if (/^\s*import\b/m.test(body) || /^\s*import\b/m.test(parts.model)) {
    throw new Error("The status page scripts may import nothing but status_page_model.js");
  }
  return `${parts.model}\n${body}`;
}

function sha256Source(text: string): string {
  return `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`;
}

/**
 * Assembles the page from its template, style and script.
 *
 * @param parts The template (with `<!-- hopd:style -->` and `<!-- hopd:script -->`
 *   markers), the CSS and the JavaScript module.
 * @returns The document and its CSP.
 * @throws {Error} When a marker is missing or the script or style could end its element
 *   early (a `</script` or `</style` inside).
 */
export function buildStatusPage(
  parts: { template: string; css: string; script: string } = {
    template,
    css,
    script: inlineScript({ model, main }),
  },
): StatusPage {
  const inlined: [string, string, string][] = [
    ["script", parts.script, "</script"],
    ["style", parts.css, "</style"],
  ];
  for (const [name, text, closing] of inlined) {
    if (text.toLowerCase().includes(closing)) {
      throw new Error(`The status page ${name} must not contain '${closing}'`);
    }
    if (!parts.template.includes(`<!-- hopd:${name} -->`)) {
      throw new Error(`The status page template lacks its '<!-- hopd:${name} -->' marker`);
    }
  }
  const html = parts.template
    .replace("<!-- hopd:style -->", () => `<style>${parts.css}</style>`)
    .replace("<!-- hopd:script -->", () => `<script type="module">${parts.script}</script>`);
  const contentSecurityPolicy = [
    "default-src 'self'",
    `script-src ${sha256Source(parts.script)}`,
    `style-src ${sha256Source(parts.css)}`,
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, contentSecurityPolicy };
}

const pageRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["meta"],
  summary: "Status page",
  description: "A self-contained HTML page that polls /v1/status (every 2 s), /v1/federation, " +
    "/v1/policies and /v1/decisions (every 6 s). No external assets; strict CSP.",
  responses: {
    200: {
      description: "The page",
      content: { "text/html": { schema: z.string() } },
    },
  },
});

/**
 * The status page route.
 *
 * @returns The route group.
 */
export function statusPageRoutes(): OpsRouteGroup {
  const page = buildStatusPage();
  return (app) =>
    app.openapi(pageRoute, (c) =>
      c.body(page.html, 200, {
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": page.contentSecurityPolicy,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-cache",
      }));
}
