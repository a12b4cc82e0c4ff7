// The hopd status page's script, inlined into `GET /` under a CSP hash after
// status_page_model.js (see status_page_routes.ts, which drops the import below when it
// inlines both). It polls the ops API and renders with DOM calls only: every value from the
// API goes in as text (textContent, append(string), setAttribute), never as markup. Routes
// that answer 404 (federation or policy engine not enabled) show a "not enabled" note.
import {
  addSample,
  arr,
  CHART,
  chartModel,
  formatBytes,
  formatDuration,
  formatRate,
  HISTORY_WINDOW_MS,
  MIN_CHART_SPAN_MS,
  num,
  obj,
  rateSeries,
  str,
  tlsRows,
} from "./status_page_model.js";

const POLL_INTERVAL_MS = 2_000;
/** Federation, policies and decisions are polled every this many status polls. */
const EXTRAS_EVERY_POLLS = 3;
const DECISIONS_LIMIT = 20;
const FETCH_TIMEOUT_MS = 5_000;
const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  // append(string) adds a text node: API data never becomes markup.
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function byId(id) {
  return document.getElementById(id);
}

function setText(id, text) {
  byId(id).textContent = text;
}

function list(id, items, empty = "none") {
  const texts = arr(items).map(str);
  byId(id).replaceChildren(...(texts.length ? texts : [empty]).map((t) => el("li", {}, t)));
}

function badge(node, text, tone) {
  node.textContent = text;
  node.className = `badge ${tone}`;
}

function verdictTone(verdict) {
  return verdict === "healthy" ? "ok" : verdict === "degraded" ? "warn" : "bad";
}

function table(headers, rows) {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows),
  );
}

function cell(content, attrs = {}) {
  return el("td", attrs, content);
}

function shortId(peerId) {
  const text = str(peerId);
  return text.length > 20 ? `${text.slice(0, 12)}…${text.slice(-6)}` : text;
}

function ageText(ms) {
  const value = num(ms);
  return value === undefined ? "—" : `${formatDuration(value / 1000)} ago`;
}

function sinceText(iso) {
  const t = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? "—" : ageText(Date.now() - t);
}

function panelState(id, state) {
  byId(id).dataset.state = state;
}

function renderNode(status) {
  setText("node-peer-id", str(status.peerId));
  setText("node-version", status.version ? `v${str(status.version)}` : "");
  setText("node-uptime", formatDuration(status.uptimeSeconds));
  const state = status.ready === true
    ? ["Ready", "ok"]
    : status.draining === true
    ? ["Draining", "warn"]
    : ["Not ready", "bad"];
  badge(byId("node-state"), ...state);
  list("node-reasons", status.reasons, "");
  const health = obj(status.health);
  if (typeof health.verdict === "string") {
    badge(byId("node-health"), health.verdict, verdictTone(health.verdict));
    list("node-health-reasons", health.reasons, "");
  } else {
    badge(byId("node-health"), "no policy verdict", "muted");
  }
  list("node-listen", status.listen);
  list("node-announce", status.announce);
  document.title = `hopd ${shortId(status.peerId)} status`;
  panelState("node-panel", "ready");
}

function renderRelay(status) {
  const relay = obj(status.relay);
  const connections = obj(status.connections);
  const limiter = obj(status.limiter);
  const transports = Object.entries(obj(connections.byTransport))
    .map(([name, count]) => `${name} ${str(count)}`).join(", ") || "none";
  const members = obj(obj(status.federation).members);
  const rows = [
    ["Reservations held", "reservations", str(relay.reservations)],
    ["Circuits open", "circuits", str(relay.circuits)],
    ["Reservations accepted (total)", "reservationsAccepted", str(relay.reservationsAccepted)],
    ["Circuits opened (total)", "circuitsOpened", str(relay.circuitsOpened)],
    ["Refusals (total)", "refusals", str(relay.refusals)],
    ["Stream errors (total)", "streamErrors", str(relay.streamErrors)],
    [
      "Connections (in / out)",
      "connections",
      `${str(connections.total)} (${str(connections.inbound)} / ${str(connections.outbound)})`,
    ],
    ["Connections by transport", "byTransport", transports],
    ["Active bans", "bans", str(limiter.bans)],
    ["Throttle factor (1 = configured rates)", "throttleFactor", str(limiter.throttleFactor)],
  ];
  if (num(members.alive) !== undefined) {
    rows.push([
      "Federation members (alive / suspect / dead)",
      "federationMembers",
      `${str(members.alive)} / ${str(members.suspect)} / ${str(members.dead)}`,
    ]);
  }
  rows.push(...tlsRows(status.tls, Date.now()));
  byId("relay-rows").replaceChildren(
    ...rows.map(([label, field, value]) =>
      el(
        "tr",
        {},
        el("th", { scope: "row" }, label),
        cell(value, { class: "num", "data-field": field }),
      )
    ),
  );
  panelState("relay-panel", "ready");
}

function renderBandwidth(history, totalBytes, nowMs) {
  const rates = rateSeries(history);
  const historyMs = history.length > 0 ? nowMs - history[0].tMs : 0;
  const spanMs = Math.min(HISTORY_WINDOW_MS, Math.max(MIN_CHART_SPAN_MS, historyMs));
  const model = chartModel(rates, nowMs, spanMs);
  const chart = byId("bandwidth-chart");
  const { width, height, left, right } = CHART;
  const parts = [
    svg("rect", { class: "chart-bg", x: 0, y: 0, width, height }),
    ...model.ticks.flatMap((tick) => [
      svg("line", { class: "grid", x1: left, x2: width - right, y1: tick.y, y2: tick.y }),
      svg(
        "text",
        { class: "axis-label", x: left - 6, y: tick.y + 4, "text-anchor": "end" },
        tick.label,
      ),
    ]),
    svg(
      "text",
      { class: "axis-label", x: left, y: height - 6 },
      `${formatDuration(spanMs / 1000)} ago`,
    ),
    svg(
      "text",
      { class: "axis-label", x: width - right, y: height - 6, "text-anchor": "end" },
      "now",
    ),
  ];
  if (model.points.length >= 2) {
    const line = model.points.map(([x, y]) => `${x},${y}`).join(" ");
    const first = model.points[0];
    const last = model.points[model.points.length - 1];
    parts.push(
      svg("polygon", {
        class: "area",
        points: `${first[0]},${model.baseline} ${line} ${last[0]},${model.baseline}`,
      }),
      svg("polyline", { class: "line", points: line }),
    );
  }
  chart.replaceChildren(byId("bandwidth-chart-title") ?? svg("title"), ...parts);
  chart.dataset.samples = String(history.length);
  chart.dataset.points = String(model.points.length);
  chart.dataset.peakBytesPerSecond = String(Math.round(model.peak));
  const current = rates.length > 0 ? rates[rates.length - 1].bytesPerSecond : undefined;
  setText(
    "bandwidth-summary",
    rates.length === 0
      ? `Collecting samples… ${formatBytes(totalBytes)} relayed since start.`
      : `Now ${formatRate(current)}, peak ${formatRate(model.peak)} over the last ` +
        `${formatDuration((nowMs - history[0].tMs) / 1000)}; ` +
        `${formatBytes(totalBytes)} relayed since start (both directions).`,
  );
  panelState("bandwidth-panel", "ready");
}

function renderOptional(name, result, label, render) {
  const note = byId(`${name}-note`);
  const body = byId(`${name}-body`);
  if (result.kind === "absent" || (result.kind === "ok" && result.body.enabled === false)) {
    note.textContent = `${label} is not enabled on this node.`;
    body.replaceChildren();
    panelState(`${name}-panel`, "disabled");
  } else if (result.kind === "error") {
    note.textContent = `Cannot load ${label.toLowerCase()}: ${result.message}`;
    panelState(`${name}-panel`, "error");
  } else {
    render(obj(result.body), note, body);
    panelState(`${name}-panel`, "ready");
  }
}

function renderFederation(data, note, body) {
  const members = arr(data.members).map(obj);
  const counts = { alive: 0, suspect: 0, dead: 0 };
  for (const m of members) if (m.state in counts) counts[m.state]++;
  note.textContent = `${members.length} members: ${counts.alive} alive, ${counts.suspect} ` +
    `suspect, ${counts.dead} dead${data.topic ? ` (topic ${str(data.topic)})` : ""}.`;
  const tone = { alive: "ok", suspect: "warn", dead: "bad" };
  const rows = members.map((m) => {
    const load = obj(m.load);
    const cpu = num(load.cpu);
    return el(
      "tr",
      { "data-peer": str(m.peerId) },
      cell(
        el(
          "span",
          { class: "mono", title: str(m.peerId) },
          shortId(m.peerId) + (m.self ? " (this node)" : ""),
        ),
      ),
      cell(el("span", { class: `badge ${tone[m.state] ?? "muted"}` }, str(m.state))),
      cell(str(m.region)),
      cell(str(load.reservations), { class: "num" }),
      cell(str(load.circuits), { class: "num" }),
      cell(`${formatRate(load.bytesPerSecondIn)} / ${formatRate(load.bytesPerSecondOut)}`, {
        class: "num",
      }),
      cell(cpu === undefined ? "—" : `${Math.round(cpu * 100)}%`, { class: "num" }),
      cell(formatBytes(load.memoryBytes), { class: "num" }),
      cell(num(m.rttMs) === undefined ? "—" : `${Math.round(m.rttMs)} ms`, { class: "num" }),
      cell(str(m.verdict)),
      cell(str(m.weight), { class: "num" }),
      cell(str(m.draining)),
      cell(ageText(m.lastReportAgeMs)),
    );
  });
  body.replaceChildren(
    table(
      [
        "Peer",
        "State",
        "Region",
        "Reservations",
        "Circuits",
        "In / out",
        "CPU",
        "Memory",
        "RTT",
        "Verdict",
        "Weight",
        "Draining",
        "Last report",
      ],
      rows,
    ),
  );
}

function renderPolicies(data, note, body) {
  const verdict = obj(data.verdict);
  const policies = arr(data.policies).map(obj);
  note.replaceChildren(
    "Overall verdict: ",
    el("span", { class: `badge ${verdictTone(verdict.verdict)}` }, str(verdict.verdict)),
    arr(verdict.reasons).length ? ` (${arr(verdict.reasons).map(str).join("; ")})` : "",
    `. ${policies.length} loaded.`,
  );
  const rows = policies.map((p) =>
    el(
      "tr",
      { "data-policy": str(p.name) },
      cell(el("span", { title: str(p.file) }, `${str(p.name)} (${str(p.kind)})`)),
      cell(str(p.mode)),
      cell(str(p.state)),
      cell(
        p.lastVerdict
          ? el("span", { class: `badge ${verdictTone(p.lastVerdict)}` }, str(p.lastVerdict))
          : "—",
      ),
      cell(arr(p.lastReasons).map(str).join("; ") || "—"),
      cell(sinceText(p.lastEvaluatedAt)),
      cell(num(p.lastDurationMs) === undefined ? "—" : `${p.lastDurationMs.toFixed(1)} ms`, {
        class: "num",
      }),
      cell(str(p.evaluations), { class: "num" }),
      cell(str(p.errors), { class: "num" }),
      cell(str(p.lastError)),
    )
  );
  body.replaceChildren(
    table([
      "Policy",
      "Mode",
      "State",
      "Last verdict",
      "Reasons",
      "Evaluated",
      "Took",
      "Runs",
      "Errors",
      "Last error",
    ], rows),
  );
}

function actionText(action) {
  const a = obj(action);
  const params = Object.entries(a)
    .filter(([key]) => !["type", "outcome", "suppressedBy"].includes(key))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  const outcome = a.suppressedBy ? `${str(a.outcome)} by ${str(a.suppressedBy)}` : str(a.outcome);
  const text = `${str(a.type)}${params ? ` ${params}` : ""}: ${outcome}`;
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

// The verdict cell: "from → to" when the decision changed the policy's verdict.
function verdictCell(d) {
  const change = obj(d.verdictChange);
  const verdict = (v) => el("span", { class: `badge ${verdictTone(v)}` }, str(v));
  if (typeof change.from === "string" && typeof change.to === "string") {
    return cell(el("span", {}, verdict(change.from), " → ", verdict(change.to)));
  }
  return cell(d.verdict ? verdict(d.verdict) : "—");
}

// Only decisions that did something (/v1/decisions?notable=true): an action that ran or
// would have, or a verdict change; quiet healthy ticks are not listed.
function renderDecisions(data, note, body) {
  const decisions = arr(data.decisions).map(obj);
  note.textContent = decisions.length === 0
    ? "No actions or verdict changes yet."
    : `The ${decisions.length} most recent actions and verdict changes, newest first.`;
  const rows = decisions.map((d) =>
    el(
      "tr",
      { "data-decision": str(d.id) },
      cell(typeof d.time === "string" ? new Date(d.time).toLocaleTimeString() : "—"),
      cell(str(d.policy)),
      cell(str(d.mode)),
      verdictCell(d),
      cell(
        el("ul", { class: "actions" }, ...arr(d.actions).map((a) => el("li", {}, actionText(a)))),
      ),
      cell(num(d.durationMs) === undefined ? "—" : `${d.durationMs.toFixed(1)} ms`, {
        class: "num",
      }),
      cell(str(d.error)),
    )
  );
  body.replaceChildren(
    table(["Time", "Policy", "Mode", "Verdict", "Actions", "Took", "Error"], rows),
  );
}

async function getJson(path) {
  try {
    const response = await fetch(path, {
      headers: { accept: "application/json" },
      cache: "no-store",
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    if (response.status === 404) return { kind: "absent" };
    const body = await response.json().catch(() => undefined);
    if (!response.ok) {
      const message = obj(obj(body).error).message;
      return { kind: "error", message: `HTTP ${response.status}${message ? `: ${message}` : ""}` };
    }
    return { kind: "ok", body };
  } catch (error) {
    return { kind: "error", message: error instanceof Error ? error.message : String(error) };
  }
}

/** Runs one panel's renderer; a bug in one panel marks it broken and spares the others. */
function guarded(panel, render) {
  try {
    render();
  } catch (error) {
    console.error(`hopd status page: ${panel}:`, error);
    panelState(panel, "error");
  }
}

function start() {
  let history = [];
  let polls = 0;
  let lastOkAt;
  const tick = async () => {
    const extras = polls++ % EXTRAS_EVERY_POLLS === 0;
    const [status, federation, policies, decisions] = await Promise.all([
      getJson("/v1/status"),
      ...(extras
        ? [
          getJson("/v1/federation"),
          getJson("/v1/policies"),
          getJson(`/v1/decisions?limit=${DECISIONS_LIMIT}&notable=true`),
        ]
        : []),
    ]);
    const nowMs = Date.now();
    const pageStatus = byId("page-status");
    if (status.kind === "ok") {
      const body = obj(status.body);
      lastOkAt = new Date(nowMs);
      guarded("node-panel", () => renderNode(body));
      guarded("relay-panel", () => renderRelay(body));
      const bytes = num(obj(body.relay).bytesRelayed);
      if (bytes !== undefined) history = addSample(history, { tMs: nowMs, bytes });
      guarded("bandwidth-panel", () => renderBandwidth(history, bytes, nowMs));
      pageStatus.textContent = `Updated ${lastOkAt.toLocaleTimeString()}`;
      pageStatus.className = "";
      document.documentElement.dataset.pageState = "ready";
    } else {
      const message = status.kind === "absent" ? "HTTP 404" : status.message;
      pageStatus.textContent = `Cannot reach hopd (${message})` +
        (lastOkAt ? `; showing data from ${lastOkAt.toLocaleTimeString()}` : "");
      pageStatus.className = "stale";
      document.documentElement.dataset.pageState = lastOkAt ? "stale" : "error";
    }
    if (extras) {
      guarded(
        "federation-panel",
        () => renderOptional("federation", federation, "Federation", renderFederation),
      );
      guarded(
        "policies-panel",
        () => renderOptional("policies", policies, "The policy engine", renderPolicies),
      );
      guarded(
        "decisions-panel",
        () => renderOptional("decisions", decisions, "The policy engine", renderDecisions),
      );
    }
    setTimeout(tick, POLL_INTERVAL_MS);
  };
  void tick();
}

if (typeof document !== "undefined" && document.getElementById("node-panel") !== null) start();
