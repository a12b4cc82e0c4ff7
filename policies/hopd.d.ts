// Types of what hopd gives a policy and what it may return: reference them from a policy
// with a JSDoc import, e.g.
//   /** @param {import("./hopd.d.ts").Snapshot} snapshot @param {import("./hopd.d.ts").Context} ctx */
//   export function evaluate(snapshot, ctx) { ... }
// The authoritative copy is src/policy/types.ts; a unit test checks the two agree.

export type Verdict = "healthy" | "degraded" | "unhealthy";

export interface LatencyQuantiles {
  p50?: number;
  p99?: number;
  count: number;
}

/** One JSON document per tick (policy.tick, default 5 s). */
export interface Snapshot {
  /** Host time of the tick, ms since the epoch (also what Date.now() returns in the sandbox). */
  now: number;
  tick: number;
  node: { peerId: string; uptimeSeconds: number; draining: boolean; connections: number };
  process: {
    rssBytes: number;
    heapUsedBytes: number;
    heapTotalBytes: number;
    /** Percent of one core over the last tick. */
    cpuPercent: number;
    eventLoopLagMs: { max: number; p99: number };
  };
  relay: {
    reservations: number;
    circuits: number;
    bytesPerSecondIn: number;
    bytesPerSecondOut: number;
    /** CONNECT received → STATUS OK sent, over the last tick. */
    setupLatencyMs: LatencyQuantiles;
    /** Refusals in the last tick by reason. */
    refusals: Record<string, number>;
    refusalsTotal: number;
  };
  limiter: {
    /** Rejections in the last tick by "<limiter>.<reason>", e.g. "connection.rate_ip". */
    rejections: Record<string, number>;
    rejectionsTotal: number;
    throttleFactor: number;
    bans: number;
    /** Peers with the most bytes on open circuits. */
    topTalkers: { peer: string; bytes: number }[];
  };
  /**
   * What the node is configured to hold and carry (0 = unlimited or not set): read these
   * instead of copying a config value into a policy.
   */
  limits: {
    /** relay.max_reservations */
    maxReservations: number;
    /** relay.max_circuits */
    maxCircuits: number;
    /** connections.max_connections */
    maxConnections: number;
    /** limits.bandwidth_global, bytes per second (follows a reload) */
    bandwidthGlobalBytesPerSecond: number;
    /** limits.bandwidth_per_peer, bytes per second (follows a reload) */
    bandwidthPerPeerBytesPerSecond: number;
    /** limits.bandwidth_per_circuit, bytes per second per direction (follows a reload) */
    bandwidthPerCircuitBytesPerSecond: number;
    /** federation.capacity_bandwidth, bytes per second */
    capacityBandwidthBytesPerSecond: number;
    /** The process's cgroup memory.max (systemd MemoryMax=), bytes; 0 when there is none. */
    memoryMaxBytes: number;
  };
  /** Present when [federation] is enabled. */
  federation?: {
    members: { alive: number; suspect: number; dead: number };
    connectedMembers: number;
    oldestReportAgeMs?: number;
  };
}

export interface Context {
  /** Same as snapshot.now. */
  now: number;
  /** A small JSON store that survives reloads and restarts (policy.state_max_size). */
  state: Record<string, unknown>;
  /** Up to n previous snapshots, newest first (all kept ones when n is omitted). */
  history(n?: number): Snapshot[];
  /** Seeded by the host per evaluation (recorded in the decision log), like Math.random. */
  random(): number;
  /** Lines show in the decision log (at most 20 per evaluation). */
  log(...values: unknown[]): void;
}

export type Action =
  | { type: "throttle"; factor: number; forMs: number }
  | { type: "setLimit"; key: string; value: number }
  | { type: "drain" }
  | { type: "resume" }
  | { type: "restart" }
  | { type: "ban"; peer?: string; cidr?: string; ttlMs: number; reason?: string }
  | { type: "disconnect"; peer: string }
  | {
    type: "alert";
    severity: "info" | "warning" | "critical";
    summary: string;
    labels?: Record<string, string>;
  }
  | { type: "setWeight"; weight: number }
  | { type: "runHook"; name: string };

export interface Result {
  verdict: Verdict;
  reasons: string[];
  actions: Action[];
}

/** A policy module: `export function evaluate(snapshot, ctx) { ... }` (synchronous). */
export type Evaluate = (snapshot: Snapshot, ctx: Context) => Result;

/** Plugins (plugins/*.js). */
export interface ReservationEvent {
  peer: string;
  ip?: string;
}
export interface CircuitEvent {
  source: string;
  ip?: string;
  target: string;
}
export interface AdmissionAnswer {
  accept: boolean;
  reason?: string;
}
export type OnReservation = (event: ReservationEvent, ctx: Context) => AdmissionAnswer;
export type OnCircuit = (event: CircuitEvent, ctx: Context) => AdmissionAnswer;
/** One score adjustment per candidate relay (added to the balancer's score). */
export type Score = (candidates: unknown[], hints: unknown, ctx: Context) => number[];

/** A fixture file <policy>_test.js exports `cases`. */
export interface Case {
  name: string;
  /** Merged onto an idle, healthy node's snapshot. */
  snapshot?: Partial<Snapshot> | Record<string, unknown>;
  /** Previous snapshots, newest first, each merged onto the idle snapshot. */
  history?: Record<string, unknown>[];
  state?: Record<string, unknown>;
  /** Plugins: which hook to call and its arguments. */
  hook?: "onReservation" | "onCircuit" | "score";
  input?: unknown[];
  expect: {
    verdict?: Verdict;
    /** Each must be a substring of some reason. */
    reasons?: string[];
    /** The exact actions, in any order. */
    actions?: Action[];
    accept?: boolean;
    result?: unknown;
  };
}
