// The data side of the hopd status page: formatting, the bandwidth history and the chart
// geometry. Pure functions, no DOM: unit-tested in status_page_routes_test.ts, and inlined
// ahead of status_page.js into the page's one script (see status_page_routes.ts).

export const HISTORY_WINDOW_MS = 5 * 60_000;
export const CHART = { width: 1000, height: 220, left: 76, right: 10, top: 10, bottom: 24 };
/** The chart spans the history it has, at least this long, at most the window. */
export const MIN_CHART_SPAN_MS = 60_000;
const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** A finite number, or undefined. */
export function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Text for a scalar ("—" for anything else). */
export function str(value) {
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  return "—";
}

export function arr(value) {
  return Array.isArray(value) ? value : [];
}

export function obj(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

/** 1536 → "1.50 KiB". */
export function formatBytes(bytes) {
  const value0 = num(bytes);
  if (value0 === undefined || value0 < 0) return "—";
  let value = value0;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 ? 0 : value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatRate(bytesPerSecond) {
  const text = formatBytes(bytesPerSecond);
  return text === "—" ? text : `${text}/s`;
}

/** 93784 → "1d 2h" (the two largest units). */
export function formatDuration(seconds) {
  const total = num(seconds);
  if (total === undefined || total < 0) return "—";
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const s = Math.floor(total % 60);
  const units = [[d, "d"], [h, "h"], [m, "m"], [s, "s"]];
  const first = units.findIndex(([n]) => n > 0);
  if (first === -1) return total > 0 ? `${total.toFixed(1)}s` : "0s";
  return units.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`)
    .join(" ");
}

/**
 * Adds a byte-counter sample to the history, dropping samples older than the window, and
 * starting over when the counter went down (hopd restarted).
 */
export function addSample(history, sample, windowMs = HISTORY_WINDOW_MS) {
  const last = history[history.length - 1];
  if (last !== undefined && (sample.bytes < last.bytes || sample.tMs <= last.tMs)) {
    return sample.bytes < last.bytes ? [sample] : history;
  }
  return [...history, sample].filter((s) => s.tMs >= sample.tMs - windowMs);
}

/** Rates between consecutive samples: [{tMs, bytesPerSecond}]. */
export function rateSeries(history) {
  const rates = [];
  for (let i = 1; i < history.length; i++) {
    const seconds = (history[i].tMs - history[i - 1].tMs) / 1000;
    if (seconds > 0) {
      rates.push({
        tMs: history[i].tMs,
        bytesPerSecond: (history[i].bytes - history[i - 1].bytes) / seconds,
      });
    }
  }
  return rates;
}

/** The smallest round rate (1, 2 or 5 × 10ⁿ × 1024ᵏ bytes/s) at or above `value`; 1 KiB/s at least. */
export function niceCeiling(value) {
  if (!(value > 1024)) return 1024;
  const base = 1024 ** Math.floor(Math.log(value) / Math.log(1024));
  for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1024]) {
    if (m * base >= value) return m * base;
  }
  return 1024 * base;
}

/**
 * Geometry of the bandwidth chart: polyline points, the y scale and its tick labels. The
 * x axis ends at `nowMs` and spans `spanMs`; older points are clamped to its left edge.
 */
export function chartModel(rates, nowMs, spanMs = HISTORY_WINDOW_MS, box = CHART) {
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const peak = rates.reduce((max, r) => Math.max(max, r.bytesPerSecond), 0);
  const max = niceCeiling(peak);
  const x = (tMs) => box.left + plotWidth * (1 - Math.min(1, (nowMs - tMs) / spanMs));
  const y = (rate) => box.top + plotHeight * (1 - Math.max(0, rate) / max);
  const points = rates.map((r) => [round1(x(r.tMs)), round1(y(r.bytesPerSecond))]);
  const ticks = [0, 0.5, 1].map((f) => ({ y: round1(y(max * f)), label: formatRate(max * f) }));
  return { points, peak, max, ticks, baseline: round1(y(0)) };
}

function round1(value) {
  return Math.round(value * 10) / 10;
}

/**
 * Rows for the TLS certificate served on /tls/ws and the ACME state (status.tls), as
 * [label, field, value]; none when the node serves no TLS.
 */
export function tlsRows(tls, nowMs) {
  const t = obj(tls);
  const certificate = obj(t.certificate);
  const acme = obj(t.acme);
  const rows = [];
  if (typeof certificate.notAfter === "string") {
    const names = arr(certificate.domains).join(", ") || "—";
    rows.push([
      "TLS certificate",
      "tlsCertificate",
      `${names} (${str(certificate.source)}, ${str(certificate.issuer)})`,
    ]);
    const left = (Date.parse(certificate.notAfter) - nowMs) / 1000;
    rows.push([
      "Certificate expires",
      "tlsExpiry",
      `${certificate.notAfter} (${left > 0 ? `in ${formatDuration(left)}` : "expired"})`,
    ]);
  } else if (t.acme !== undefined) {
    rows.push(["TLS certificate", "tlsCertificate", "none yet (ACME order pending)"]);
  }
  if (t.acme !== undefined) {
    const failures = num(acme.consecutiveFailures) ?? 0;
    const next = typeof acme.nextOrderAt === "string" ? `, next order ${acme.nextOrderAt}` : "";
    rows.push([
      "ACME",
      "acme",
      failures > 0
        ? `${failures} failed in a row: ${str(acme.lastError)}${next}`
        : `${str(acme.state)}${next}`,
    ]);
  }
  return rows;
}
