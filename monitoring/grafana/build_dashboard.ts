// Builds monitoring/grafana/hopd.json, the Grafana dashboard for hopd, from the panel list
// below (ids and grid positions are computed, so panels never overlap or share an id).
//
//   deno run -A monitoring/grafana/build_dashboard.ts          # rewrites hopd.json
//   deno run -A monitoring/grafana/build_dashboard.ts --check  # exits 1 when hopd.json is stale
//
// tests/monitoring_test.ts checks that hopd.json is what this script builds and that every
// metric a panel queries is one hopd exports (or one agreed for a component being built).

/** One query of a panel. */
interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** "heatmap" for bucket series drawn as a heatmap. */
  readonly format?: "time_series" | "heatmap";
}

/** A panel before layout. */
interface PanelSpec {
  readonly title: string;
  readonly type: "timeseries" | "stat" | "heatmap";
  readonly queries: readonly Query[];
  readonly unit?: string;
  readonly description?: string;
  /** Width in grid columns (24 per row). @default 8 */
  readonly width?: number;
  /** Value → text mappings for stat panels. */
  readonly mappings?: Readonly<Record<string, { text: string; color: string }>>;
  readonly stack?: boolean;
}

/** A dashboard row: a title and its panels. */
interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

/** Series selector every query carries, driven by the dashboard variables. */
const SEL = 'job=~"$job", instance=~"$instance"';
const RATE = "$__rate_interval";

function rate(metric: string, by: string, extra = ""): string {
  const labels = extra === "" ? SEL : `${SEL}, ${extra}`;
  return `sum by (${by}) (rate(${metric}{${labels}}[${RATE}]))`;
}

function quantile(q: number, metric: string, by = ""): string {
  const group = by === "" ? "le" : `${by}, le`;
  return `histogram_quantile(${q}, sum by (${group}) (rate(${metric}_bucket{${SEL}}[${RATE}])))`;
}

const ROWS: readonly RowSpec[] = [
  {
    title: "Relay health",
    panels: [
      {
        title: "Up",
        type: "stat",
        width: 4,
        queries: [{ expr: `up{${SEL}}`, legend: "{{instance}}" }],
        mappings: { "0": { text: "DOWN", color: "red" }, "1": { text: "UP", color: "green" } },
      },
      {
        title: "Ready",
        type: "stat",
        width: 4,
        description: "/ready: 1 when listeners are up and the node is not draining.",
        queries: [{ expr: `hopd_ready{${SEL}}`, legend: "{{instance}}" }],
        mappings: {
          "0": { text: "NOT READY", color: "red" },
          "1": { text: "READY", color: "green" },
        },
      },
      {
        title: "Draining",
        type: "stat",
        width: 4,
        queries: [{ expr: `hopd_draining{${SEL}}`, legend: "{{instance}}" }],
        mappings: {
          "0": { text: "no", color: "green" },
          "1": { text: "DRAINING", color: "orange" },
        },
      },
      {
        title: "Health (policies)",
        type: "stat",
        width: 4,
        description: "Worst verdict of the enforcing policies (hopd_health_status).",
        queries: [{ expr: `hopd_health_status{${SEL}}`, legend: "{{instance}}" }],
        mappings: {
          "0": { text: "healthy", color: "green" },
          "1": { text: "degraded", color: "orange" },
          "2": { text: "unhealthy", color: "red" },
        },
      },
      {
        title: "Uptime",
        type: "stat",
        width: 4,
        unit: "s",
        queries: [{
          expr: `time() - process_start_time_seconds{${SEL}}`,
          legend: "{{instance}}",
        }],
      },
      {
        title: "Version",
        type: "stat",
        width: 4,
        queries: [{ expr: `hopd_build_info{${SEL}}`, legend: "{{instance}} {{version}}" }],
      },
      {
        title: "Connections by transport",
        type: "timeseries",
        width: 12,
        stack: true,
        queries: [{
          expr: `sum by (transport, direction) (hopd_connections{${SEL}})`,
          legend: "{{transport}} {{direction}}",
        }],
      },
      {
        title: "Connections opened/s",
        type: "timeseries",
        width: 12,
        unit: "ops",
        queries: [{
          expr: rate("hopd_connections_opened_total", "transport, direction"),
          legend: "{{transport}} {{direction}}",
        }],
      },
    ],
  },
  {
    title: "Reservations",
    panels: [
      {
        title: "Reservations held",
        type: "timeseries",
        width: 12,
        queries: [{
          expr: `sum by (instance) (hopd_reservations_active{${SEL}})`,
          legend: "{{instance}}",
        }],
      },
      {
        title: "RESERVE requests/s by result",
        type: "timeseries",
        width: 12,
        unit: "ops",
        queries: [{ expr: rate("hopd_reservations_total", "result"), legend: "{{result}}" }],
      },
    ],
  },
  {
    title: "Circuits",
    panels: [
      {
        title: "Circuits open",
        type: "timeseries",
        queries: [{
          expr: `sum by (instance) (hopd_circuits_active{${SEL}})`,
          legend: "{{instance}}",
        }],
      },
      {
        title: "CONNECT requests/s by result",
        type: "timeseries",
        unit: "ops",
        queries: [{ expr: rate("hopd_circuits_total", "result"), legend: "{{result}}" }],
      },
      {
        title: "Circuits closed/s by reason",
        type: "timeseries",
        unit: "ops",
        queries: [{ expr: rate("hopd_circuits_closed_total", "reason"), legend: "{{reason}}" }],
      },
      {
        title: "Refusals/s by reason",
        type: "timeseries",
        unit: "ops",
        description: "Reservations and circuits refused: limits, rate limits, bans, drains.",
        queries: [{ expr: rate("hopd_refusals_total", "reason"), legend: "{{reason}}" }],
      },
      {
        title: "Stream errors/s",
        type: "timeseries",
        unit: "ops",
        description: "Hop/stop/circuit streams reset for bad bytes, timeouts or peer resets.",
        queries: [{
          expr: rate("hopd_relay_stream_errors_total", "protocol, reason"),
          legend: "{{protocol}} {{reason}}",
        }],
      },
      {
        title: "Circuit duration",
        type: "timeseries",
        unit: "s",
        queries: [
          { expr: quantile(0.5, "hopd_circuit_duration_seconds"), legend: "p50" },
          { expr: quantile(0.95, "hopd_circuit_duration_seconds"), legend: "p95" },
        ],
      },
    ],
  },
  {
    // A circuit that a DCUtR hole punch replaced ends within seconds with a few KiB, ended by
    // one of its peers (docs/RELAY.md, "Reading circuit lifetime and size").
    title: "Circuit lifetime and size (hole punching)",
    panels: [
      {
        title: "Circuit lifetime heatmap",
        type: "heatmap",
        description: "Circuits ended per lifetime bucket. A band under 5 s is peers that met " +
          "through hopd and moved to a direct connection; a band at the duration limit is " +
          "circuits cut by it.",
        queries: [{
          expr: `sum by (le) (increase(hopd_circuit_duration_seconds_bucket{${SEL}}[${RATE}]))`,
          legend: "{{le}}",
          format: "heatmap",
        }],
      },
      {
        title: "Bytes per circuit heatmap",
        type: "heatmap",
        unit: "bytes",
        description: "Circuits ended per size bucket (both directions). A DCUtR exchange is a " +
          "few KiB; a band at twice circuit_data is circuits cut by the data limit.",
        queries: [{
          expr: `sum by (le) (increase(hopd_circuit_bytes_bucket{${SEL}}[${RATE}]))`,
          legend: "{{le}}",
          format: "heatmap",
        }],
      },
      {
        title: "Circuits ended by a peer within 10 s",
        type: "timeseries",
        unit: "percentunit",
        description: "Share of ended circuits that the initiator or the target closed within " +
          "10 s: circuits that hole punches replaced, when the peers close their circuit " +
          "(docs/RELAY.md says which implementations do).",
        queries: [{
          expr: `sum(rate(hopd_circuit_duration_seconds_bucket{${SEL}, ended_by!="relay", ` +
            `le="10"}[${RATE}])) / sum(rate(hopd_circuit_duration_seconds_count{${SEL}}[${RATE}]))`,
          legend: "ended by a peer within 10 s",
        }],
      },
      {
        title: "Circuits ended/s by who ended them",
        type: "timeseries",
        unit: "ops",
        stack: true,
        queries: [{
          expr: rate("hopd_circuit_duration_seconds_count", "ended_by"),
          legend: "{{ended_by}}",
        }],
      },
      {
        title: "Circuit lifetime by who ended it",
        type: "timeseries",
        unit: "s",
        queries: [
          {
            expr: quantile(0.5, "hopd_circuit_duration_seconds", "ended_by"),
            legend: "p50 {{ended_by}}",
          },
          {
            expr: quantile(0.95, "hopd_circuit_duration_seconds", "ended_by"),
            legend: "p95 {{ended_by}}",
          },
        ],
      },
      {
        title: "AutoNAT dial-backs/s by result",
        type: "timeseries",
        unit: "ops",
        description: "AutoNAT v1 requests ([autonat]): ok = reachable, dial_error = behind a " +
          "NAT (it will reserve), refused_* = over the limits or nothing to dial.",
        queries: [{ expr: rate("hopd_autonat_requests_total", "result"), legend: "{{result}}" }],
      },
      {
        title: "AutoNAT dial-back time",
        type: "timeseries",
        unit: "s",
        description: "How long a dial-back took: fast when it reached the peer, up to " +
          "autonat.dial_timeout when a NAT dropped it.",
        queries: [
          {
            expr: quantile(0.5, "hopd_autonat_dial_seconds", "outcome"),
            legend: "p50 {{outcome}}",
          },
          {
            expr: quantile(0.95, "hopd_autonat_dial_seconds", "outcome"),
            legend: "p95 {{outcome}}",
          },
        ],
      },
      {
        title: "Bytes per circuit by who ended it",
        type: "timeseries",
        unit: "bytes",
        queries: [
          { expr: quantile(0.5, "hopd_circuit_bytes", "ended_by"), legend: "p50 {{ended_by}}" },
          { expr: quantile(0.95, "hopd_circuit_bytes", "ended_by"), legend: "p95 {{ended_by}}" },
        ],
      },
    ],
  },
  {
    title: "Bandwidth",
    panels: [
      {
        title: "Relayed bytes/s by direction",
        type: "timeseries",
        width: 12,
        unit: "Bps",
        stack: true,
        queries: [{ expr: rate("hopd_relayed_bytes_total", "direction"), legend: "{{direction}}" }],
      },
      {
        title: "Bandwidth caps: pause asked per second",
        type: "timeseries",
        width: 12,
        unit: "s",
        description: "Seconds of pause the bandwidth caps asked of relay flows, per second.",
        queries: [{
          expr: rate("hopd_bandwidth_throttled_seconds_total", "instance"),
          legend: "{{instance}}",
        }],
      },
    ],
  },
  {
    title: "Circuit setup latency",
    panels: [
      {
        title: "Setup latency heatmap (CONNECT → STATUS OK)",
        type: "heatmap",
        width: 12,
        queries: [{
          expr: `sum by (le) (increase(hopd_circuit_setup_seconds_bucket{${SEL}}[${RATE}]))`,
          legend: "{{le}}",
          format: "heatmap",
        }],
      },
      {
        title: "Setup latency quantiles",
        type: "timeseries",
        width: 12,
        unit: "s",
        queries: [
          { expr: quantile(0.5, "hopd_circuit_setup_seconds"), legend: "p50" },
          { expr: quantile(0.95, "hopd_circuit_setup_seconds"), legend: "p95" },
          { expr: quantile(0.99, "hopd_circuit_setup_seconds"), legend: "p99" },
          // The target's answer to STOP, inside the setup: close to the setup's p95 means the
          // targets are slow, not hopd.
          { expr: quantile(0.95, "hopd_circuit_stop_seconds"), legend: "p95 target STOP" },
        ],
      },
      {
        title: "STOP streams/s by how they were opened",
        type: "timeseries",
        width: 24,
        unit: "ops",
        description: "pipelined: negotiation and CONNECT in one write (relay.stop_pipelining); " +
          "negotiated: negotiation first. Negotiated streams with pipelining on mean target " +
          "connections of an unexpected shape: each costs one more round trip.",
        queries: [{ expr: rate("hopd_circuit_stop_streams_total", "mode"), legend: "{{mode}}" }],
      },
    ],
  },
  {
    title: "Limiter",
    panels: [
      {
        title: "Rate-limited checks/s",
        type: "timeseries",
        width: 12,
        unit: "ops",
        queries: [{
          expr: rate("hopd_rate_limited_total", "limiter, reason"),
          legend: "{{limiter}} {{reason}}",
        }],
      },
      {
        title: "Bans in force",
        type: "timeseries",
        width: 6,
        description: "Bans in force, and failed saves of bans.json (a read-only or full data " +
          "dir: bans made since would be lost at a restart; /ready is 503 meanwhile).",
        queries: [
          { expr: `sum by (instance) (hopd_bans_active{${SEL}})`, legend: "{{instance}}" },
          {
            expr: `sum by (instance) (increase(hopd_bans_save_failures_total{${SEL}}[5m]))`,
            legend: "{{instance}} failed saves (5m)",
          },
        ],
      },
      {
        title: "Throttle factor",
        type: "timeseries",
        width: 6,
        description: "Factor scaling every rate and bandwidth cap (1 = not throttled).",
        queries: [{ expr: `hopd_throttle_factor{${SEL}}`, legend: "{{instance}}" }],
      },
      {
        title: "Keys tracked per limiter table",
        type: "timeseries",
        width: 24,
        queries: [{
          expr: `sum by (limiter) (hopd_ratelimit_tracked_keys{${SEL}})`,
          legend: "{{limiter}}",
        }],
      },
    ],
  },
  {
    title: "Sockets",
    panels: [
      {
        title: "Inbound sockets by listener and state",
        type: "timeseries",
        description:
          "Sockets behind the socket guard: header and handshake are still pending (bounded per IP, subnet and in total), active and idle are ops requests, established are open libp2p connections.",
        queries: [{
          expr: `sum by (listener, state) (hopd_sockets{${SEL}})`,
          legend: "{{listener}} {{state}}",
        }],
      },
      {
        title: "Sockets refused or shed/s by reason",
        type: "timeseries",
        unit: "ops",
        description:
          "fd_reserve: file descriptors short; pending_ip/_subnet/_total: a pending bound reached (the oldest of the same or the most-represented source was reset); banned, denied, rate_*: the limiter at accept; draining.",
        queries: [{
          expr: rate("hopd_socket_refusals_total", "listener, reason"),
          legend: "{{listener}} {{reason}}",
        }],
      },
      {
        title: "Sockets timed out/s by phase",
        type: "timeseries",
        unit: "ops",
        queries: [{
          expr: rate("hopd_socket_timeouts_total", "listener, phase"),
          legend: "{{listener}} {{phase}}",
        }],
      },
      {
        title: "Listeners accepting",
        type: "timeseries",
        description:
          "0 while a listener's accept loop is found stalled (it is re-opened); stalls counted below.",
        queries: [
          { expr: `hopd_listener_accepting{${SEL}}`, legend: "{{instance}} {{listener}}" },
          {
            expr: `sum by (listener) (increase(hopd_listener_stalls_total{${SEL}}[${RATE}]))`,
            legend: "stalls {{listener}}",
          },
        ],
      },
      {
        title: "File descriptors free",
        type: "timeseries",
        description:
          "Free descriptors as last probed (a lower bound far from the limit) against the reserve kept for hopd itself.",
        queries: [
          { expr: `hopd_fds_free{${SEL}}`, legend: "free {{instance}}" },
          { expr: `hopd_fds_reserve{${SEL}}`, legend: "reserve {{instance}}" },
        ],
      },
    ],
  },
  {
    title: "Policies",
    panels: [
      {
        title: "Evaluations/s by policy and result",
        type: "timeseries",
        unit: "ops",
        queries: [{
          expr: rate("hopd_policy_evaluations_total", "policy, result"),
          legend: "{{policy}} {{result}}",
        }],
      },
      {
        title: "Evaluation time p95 by policy",
        type: "timeseries",
        unit: "s",
        queries: [{
          expr: quantile(0.95, "hopd_policy_evaluation_seconds", "policy"),
          legend: "{{policy}}",
        }],
      },
      {
        title: "Policy errors by kind",
        type: "timeseries",
        queries: [{
          expr: `sum by (policy, kind) (increase(hopd_policy_errors_total{${SEL}}[${RATE}]))`,
          legend: "{{policy}} {{kind}}",
        }],
      },
      {
        title: "Actions/s by outcome",
        type: "timeseries",
        unit: "ops",
        description: "A runHook counts as executed once its command started; how each run " +
          "ended (ok, failed, timeout, not_permitted, spawn_error) is the second series.",
        queries: [
          {
            expr: rate("hopd_policy_actions_total", "policy, action, outcome"),
            legend: "{{policy}} {{action}} {{outcome}}",
          },
          {
            expr: rate("hopd_policy_hook_runs_total", "hook, result"),
            legend: "hook {{hook}} {{result}}",
          },
        ],
      },
      {
        title: "Policies and plugins loaded",
        type: "timeseries",
        queries: [
          { expr: `sum by (kind) (hopd_policies_loaded{${SEL}})`, legend: "{{kind}}" },
          {
            expr: `sum by (result) (increase(hopd_policy_reloads_total{${SEL}}[${RATE}]))`,
            legend: "reloads {{result}}",
          },
        ],
      },
      {
        title: "Restart budget and sandbox restarts",
        type: "timeseries",
        queries: [
          {
            expr: `max by (instance) (hopd_policy_restart_budget_exhausted{${SEL}})`,
            legend: "budget exhausted {{instance}}",
          },
          {
            expr:
              `sum by (instance) (increase(hopd_policy_worker_restarts_total{${SEL}}[${RATE}]))`,
            legend: "sandbox restarts {{instance}}",
          },
        ],
      },
      {
        title: "Alerts raised/s by severity",
        type: "timeseries",
        unit: "ops",
        queries: [{ expr: rate("hopd_alerts_total", "severity"), legend: "{{severity}}" }],
      },
      {
        title: "Alert deliveries/s by sink and result",
        type: "timeseries",
        unit: "ops",
        queries: [{
          expr: rate("hopd_alert_deliveries_total", "sink, result"),
          legend: "{{sink}} {{result}}",
        }],
      },
      {
        title: "Plugin calls/s by result",
        type: "timeseries",
        unit: "ops",
        queries: [{
          expr: rate("hopd_plugin_calls_total", "plugin, hook, result"),
          legend: "{{plugin}} {{hook}} {{result}}",
        }],
      },
      {
        title: "Plugin hook time p95",
        type: "timeseries",
        width: 24,
        unit: "s",
        description:
          "How long plugin hooks took to answer, as the relay saw it (budget: policy.plugin_budget).",
        queries: [{ expr: quantile(0.95, "hopd_plugin_call_seconds", "hook"), legend: "{{hook}}" }],
      },
    ],
  },
  {
    title: "Federation",
    panels: [
      {
        title: "Members by state",
        type: "timeseries",
        width: 6,
        queries: [
          { expr: `max by (state) (hopd_federation_members{${SEL}})`, legend: "{{state}}" },
          {
            expr: `max by (instance) (hopd_federation_connected_members{${SEL}})`,
            legend: "connected {{instance}}",
          },
        ],
      },
      {
        title: "Oldest report among alive members",
        type: "timeseries",
        width: 6,
        unit: "s",
        queries: [{
          expr: `hopd_federation_view_staleness_seconds{${SEL}}`,
          legend: "{{instance}}",
        }],
      },
      {
        title: "Reports/s received and rejected",
        type: "timeseries",
        width: 6,
        unit: "ops",
        queries: [
          { expr: rate("hopd_federation_reports_received_total", "instance"), legend: "received" },
          {
            expr: rate("hopd_federation_reports_rejected_total", "reason"),
            legend: "rejected {{reason}}",
          },
          { expr: rate("hopd_federation_reports_sent_total", "result"), legend: "sent {{result}}" },
        ],
      },
      {
        title: "Balancer selections/s",
        type: "timeseries",
        width: 6,
        unit: "ops",
        queries: [
          { expr: rate("hopd_balancer_selections_total", "algorithm"), legend: "{{algorithm}}" },
          {
            expr: rate("hopd_balancer_score_hook_calls_total", "result"),
            legend: "score hook {{result}}",
          },
        ],
      },
      {
        title: "Member dials and select-stream errors/s",
        type: "timeseries",
        width: 24,
        unit: "ops",
        queries: [
          {
            expr: rate("hopd_federation_member_dials_total", "result"),
            legend: "dials {{result}}",
          },
          {
            expr: rate("hopd_federation_select_stream_errors_total", "reason"),
            legend: "select errors {{reason}}",
          },
        ],
      },
    ],
  },
  {
    title: "Process",
    panels: [
      {
        title: "Memory",
        type: "timeseries",
        unit: "bytes",
        queries: [
          { expr: `process_resident_memory_bytes{${SEL}}`, legend: "RSS {{instance}}" },
          { expr: `nodejs_heap_size_used_bytes{${SEL}}`, legend: "V8 heap used {{instance}}" },
          { expr: `nodejs_heap_size_total_bytes{${SEL}}`, legend: "V8 heap total {{instance}}" },
          { expr: `nodejs_external_memory_bytes{${SEL}}`, legend: "external {{instance}}" },
        ],
      },
      {
        title: "CPU (main thread)",
        type: "timeseries",
        unit: "percentunit",
        description:
          "process_cpu_seconds_total comes from Deno's process.cpuUsage(), which misses part of V8's and Deno's helper threads: read it as a lower bound.",
        queries: [{ expr: rate("process_cpu_seconds_total", "instance"), legend: "{{instance}}" }],
      },
      {
        title: "Event loop lag",
        type: "timeseries",
        unit: "s",
        queries: [
          { expr: `nodejs_eventloop_lag_p50_seconds{${SEL}}`, legend: "p50 {{instance}}" },
          { expr: `nodejs_eventloop_lag_p99_seconds{${SEL}}`, legend: "p99 {{instance}}" },
        ],
      },
      {
        title: "GC time/s by kind",
        type: "timeseries",
        unit: "s",
        queries: [{
          expr: rate("nodejs_gc_duration_seconds_sum", "kind"),
          legend: "{{kind}}",
        }],
      },
      {
        title: "Config reloads",
        type: "timeseries",
        queries: [{
          expr: `sum by (result) (increase(hopd_reloads_total{${SEL}}[${RATE}]))`,
          legend: "{{result}}",
        }],
      },
    ],
  },
  {
    title: "TLS certificate",
    panels: [
      {
        title: "Certificate expires in",
        type: "stat",
        unit: "s",
        description:
          "Time left on the certificate served on WebSockets over TLS ([tls] files or [acme]). Alerts at 14 and 7 days.",
        queries: [{
          expr: `hopd_tls_certificate_expiry_timestamp_seconds{${SEL}} - time()`,
          legend: "{{instance}} ({{source}})",
        }],
      },
      {
        title: "ACME orders by result",
        type: "timeseries",
        description: "Every order sent to the ACME CA (first certificates and renewals).",
        queries: [{
          expr: `sum by (result) (increase(hopd_acme_orders_total{${SEL}}[${RATE}]))`,
          legend: "{{result}}",
        }],
      },
      {
        title: "ACME failures in a row",
        type: "timeseries",
        description:
          "Failed ACME orders in a row (0 after a success); HopdAcmeRenewalFailing fires at 3 for an hour.",
        queries: [{
          expr: `hopd_acme_consecutive_failures{${SEL}}`,
          legend: "{{instance}}",
        }],
      },
    ],
  },
];

const DATASOURCE = { type: "prometheus", uid: "${datasource}" } as const;
const PANEL_HEIGHT = 8;

function fieldConfig(spec: PanelSpec): Record<string, unknown> {
  const defaults: Record<string, unknown> = { unit: spec.unit ?? "short" };
  if (spec.mappings !== undefined) {
    defaults.mappings = [{
      type: "value",
      options: Object.fromEntries(
        Object.entries(spec.mappings).map(([value, m], index) => [value, { ...m, index }]),
      ),
    }];
  }
  if (spec.type === "timeseries") {
    defaults.custom = {
      drawStyle: "line",
      lineWidth: 1,
      fillOpacity: spec.stack ? 30 : 10,
      showPoints: "never",
      stacking: { mode: spec.stack ? "normal" : "none", group: "A" },
    };
  }
  return { defaults, overrides: [] };
}

function options(spec: PanelSpec): Record<string, unknown> {
  switch (spec.type) {
    case "stat":
      return {
        reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
        colorMode: "background",
        graphMode: "none",
        textMode: spec.title === "Version" ? "name" : "auto",
      };
    case "heatmap":
      return {
        calculate: false,
        yAxis: { unit: spec.unit ?? "s" },
        cellGap: 1,
        color: { mode: "scheme", scheme: "Oranges", steps: 64 },
        tooltip: { mode: "single", yHistogram: true },
      };
    default:
      return {
        legend: { displayMode: "list", placement: "bottom", showLegend: true },
        tooltip: { mode: "multi", sort: "desc" },
      };
  }
}

/** Lays the rows out on Grafana's 24-column grid and numbers every panel. */
export function buildDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      type: "row",
      id: id++,
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      const w = spec.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push({
        type: spec.type,
        id: id++,
        title: spec.title,
        ...(spec.description === undefined ? {} : { description: spec.description }),
        datasource: DATASOURCE,
        gridPos: { h: PANEL_HEIGHT, w, x, y },
        fieldConfig: fieldConfig(spec),
        options: options(spec),
        targets: spec.queries.map((q, index) => ({
          datasource: DATASOURCE,
          refId: String.fromCharCode(65 + index),
          expr: q.expr,
          legendFormat: q.legend ?? "__auto",
          range: true,
          ...(q.format === undefined ? {} : { format: q.format }),
        })),
      });
      x += w;
    }
    y += PANEL_HEIGHT;
  }
  return {
    title: "hopd relay",
    uid: "hopd-relay",
    description:
      "hopd libp2p relay: health, reservations, circuits, bandwidth, setup latency, limiter, policies, federation. Built by monitoring/grafana/build_dashboard.ts.",
    tags: ["hopd", "libp2p"],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    timezone: "utc",
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: "grafana", uid: "-- Grafana --" },
        enable: true,
        hide: true,
        iconColor: "rgba(0, 211, 255, 1)",
        name: "Annotations & Alerts",
        type: "dashboard",
      }, {
        datasource: DATASOURCE,
        enable: true,
        iconColor: "orange",
        name: "hopd restarts",
        expr: `changes(process_start_time_seconds{${SEL}}[2m]) > 0`,
        step: "1m",
        titleFormat: "hopd restarted",
        textFormat: "{{instance}}",
      }],
    },
    templating: {
      list: [
        {
          name: "datasource",
          label: "Prometheus",
          type: "datasource",
          query: "prometheus",
          current: {},
          hide: 0,
        },
        {
          name: "job",
          label: "Job",
          type: "query",
          datasource: DATASOURCE,
          query: { query: "label_values(hopd_build_info, job)", refId: "job" },
          definition: "label_values(hopd_build_info, job)",
          current: { text: "hopd", value: "hopd" },
          refresh: 2,
          includeAll: false,
          multi: false,
          hide: 0,
        },
        {
          name: "instance",
          label: "Instance",
          type: "query",
          datasource: DATASOURCE,
          query: {
            query: 'label_values(hopd_build_info{job=~"$job"}, instance)',
            refId: "instance",
          },
          definition: 'label_values(hopd_build_info{job=~"$job"}, instance)',
          current: { text: "All", value: "$__all" },
          refresh: 2,
          includeAll: true,
          allValue: ".*",
          multi: true,
          hide: 0,
        },
      ],
    },
    panels,
  };
}

/** The dashboard as committed: two-space JSON and a final newline. */
export function dashboardText(): string {
  return JSON.stringify(buildDashboard(), null, 2) + "\n";
}

if (import.meta.main) {
  const path = new URL("./hopd.json", import.meta.url);
  const text = dashboardText();
  if (Deno.args.includes("--check")) {
    const current = await Deno.readTextFile(path).catch(() => "");
    if (current !== text) {
      console.error("monitoring/grafana/hopd.json is stale: run build_dashboard.ts");
      Deno.exit(1);
    }
  } else {
    await Deno.writeTextFile(path, text);
    console.error(`wrote ${path.pathname}`);
  }
}
