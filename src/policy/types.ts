/**
 * The policy contract: the snapshot a policy reads, the result it returns and the actions it
 * may ask for. policies/hopd.d.ts is the authors' copy of these types; a unit test checks the
 * two agree on every action type and snapshot section.
 *
 * @module
 */

import { z } from "zod";
import { type Verdict, VERDICTS } from "../balancer/mod.ts";
import type { POLICY_MODES } from "../config/mod.ts";

export { type Verdict, VERDICTS };

/** How a policy's decisions are applied. */
export type PolicyMode = typeof POLICY_MODES[number];

/** Quantiles of a latency over the last tick, in milliseconds (undefined: nothing observed). */
export interface LatencyQuantiles {
  /** Median. */
  readonly p50?: number;
  /** 99th percentile. */
  readonly p99?: number;
  /** How many were observed. */
  readonly count: number;
}

/** One JSON document per tick: what a policy sees. */
export interface Snapshot {
  /** Host time of the tick, ms since the epoch (policies must not read clocks themselves). */
  readonly now: number;
  /** Tick number since the engine started. */
  readonly tick: number;
  /** The node itself. */
  readonly node: {
    readonly peerId: string;
    readonly uptimeSeconds: number;
    readonly draining: boolean;
    readonly connections: number;
  };
  /** The hopd process: memory in bytes, CPU and event-loop lag. */
  readonly process: {
    readonly rssBytes: number;
    readonly heapUsedBytes: number;
    readonly heapTotalBytes: number;
    /** CPU used by the process over the last tick, percent of one core. */
    readonly cpuPercent: number;
    /** Event-loop lag over the last tick, ms (max and p99 of a 100 ms sampler). */
    readonly eventLoopLagMs: { readonly max: number; readonly p99: number };
  };
  /** The relay's reservations, circuits, traffic, setup latency and refusals. */
  readonly relay: {
    readonly reservations: number;
    readonly circuits: number;
    /** Bytes relayed per second over the last tick, source→target ("in") and back ("out"). */
    readonly bytesPerSecondIn: number;
    readonly bytesPerSecondOut: number;
    /** Circuit setup latency (CONNECT received → STATUS OK sent) over the last tick. */
    readonly setupLatencyMs: LatencyQuantiles;
    /** Refusals during the last tick by reason, and since start. */
    readonly refusals: Readonly<Record<string, number>>;
    readonly refusalsTotal: number;
  };
  /** The rate limiter: rejections, the live throttle, bans and the heaviest peers. */
  readonly limiter: {
    /** Rejections during the last tick by "<limiter>.<reason>". */
    readonly rejections: Readonly<Record<string, number>>;
    readonly rejectionsTotal: number;
    readonly throttleFactor: number;
    readonly bans: number;
    /** Peers with the most bytes on open circuits. */
    readonly topTalkers: readonly { readonly peer: string; readonly bytes: number }[];
  };
  /** The limits and capacities the node runs with, so a policy never copies a config value. */
  readonly limits: SnapshotLimits;
  /** The federation's view, when federation is enabled. */
  readonly federation?: {
    readonly members: { readonly alive: number; readonly suspect: number; readonly dead: number };
    readonly connectedMembers: number;
    readonly oldestReportAgeMs?: number;
  };
}

/**
 * What the node is configured to hold and carry (0 = unlimited or not set). Counts and caps come
 * from the config the node runs with (bandwidth caps follow a reload); the memory budget from the
 * process's cgroup.
 */
export interface SnapshotLimits {
  /** `relay.max_reservations`. */
  readonly maxReservations: number;
  /** `relay.max_circuits`. */
  readonly maxCircuits: number;
  /** `connections.max_connections`. */
  readonly maxConnections: number;
  /** `limits.bandwidth_global`, bytes per second. */
  readonly bandwidthGlobalBytesPerSecond: number;
  /** `limits.bandwidth_per_peer`, bytes per second. */
  readonly bandwidthPerPeerBytesPerSecond: number;
  /** `limits.bandwidth_per_circuit`, bytes per second per direction. */
  readonly bandwidthPerCircuitBytesPerSecond: number;
  /** `federation.capacity_bandwidth`, bytes per second. */
  readonly capacityBandwidthBytesPerSecond: number;
  /** The cgroup's `memory.max` (systemd `MemoryMax=`), bytes; 0 when there is none. */
  readonly memoryMaxBytes: number;
}

const COUNT = z.number().finite();
const COUNTS = z.record(z.string(), COUNT);

/**
 * Schema of a whole {@linkcode Snapshot}: every object closed, so a misspelled field in a
 * snapshot given by hand (`hopd policy eval --snapshot`, a fixture case) is an error instead
 * of a default value the policy silently judges.
 */
export const SNAPSHOT_SCHEMA = z.strictObject({
  now: COUNT,
  tick: COUNT,
  node: z.strictObject({
    peerId: z.string(),
    uptimeSeconds: COUNT,
    draining: z.boolean(),
    connections: COUNT,
  }),
  process: z.strictObject({
    rssBytes: COUNT,
    heapUsedBytes: COUNT,
    heapTotalBytes: COUNT,
    cpuPercent: COUNT,
    eventLoopLagMs: z.strictObject({ max: COUNT, p99: COUNT }),
  }),
  relay: z.strictObject({
    reservations: COUNT,
    circuits: COUNT,
    bytesPerSecondIn: COUNT,
    bytesPerSecondOut: COUNT,
    setupLatencyMs: z.strictObject({
      p50: COUNT.optional(),
      p99: COUNT.optional(),
      count: COUNT,
    }),
    refusals: COUNTS,
    refusalsTotal: COUNT,
  }),
  limiter: z.strictObject({
    rejections: COUNTS,
    rejectionsTotal: COUNT,
    throttleFactor: COUNT,
    bans: COUNT,
    topTalkers: z.array(z.strictObject({ peer: z.string(), bytes: COUNT })).readonly(),
  }),
  limits: z.strictObject({
    maxReservations: COUNT,
    maxCircuits: COUNT,
    maxConnections: COUNT,
    bandwidthGlobalBytesPerSecond: COUNT,
    bandwidthPerPeerBytesPerSecond: COUNT,
    bandwidthPerCircuitBytesPerSecond: COUNT,
    capacityBandwidthBytesPerSecond: COUNT,
    memoryMaxBytes: COUNT,
  }),
  federation: z.strictObject({
    members: z.strictObject({ alive: COUNT, suspect: COUNT, dead: COUNT }),
    connectedMembers: COUNT,
    oldestReportAgeMs: COUNT.optional(),
  }).optional(),
});

// The schema and the interface describe the same document: each must be assignable to the
// other, or this does not compile.
const _snapshotFitsSchema = (s: Snapshot): z.input<typeof SNAPSHOT_SCHEMA> => s;
const _schemaFitsSnapshot = (s: z.output<typeof SNAPSHOT_SCHEMA>): Snapshot => s;

/**
 * Names the first problem of a snapshot given by hand: a field that is not in the snapshot
 * (with the fields that are), or a value of the wrong type.
 *
 * @param value A complete snapshot (a partial one merged onto {@linkcode exampleSnapshot}).
 * @returns The problem, or undefined when `value` is a valid snapshot.
 */
export function snapshotProblem(value: unknown): string | undefined {
  const parsed = SNAPSHOT_SCHEMA.safeParse(value);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  if (issue.code !== "unrecognized_keys") return describeIssue(parsed.error);
  const parent = issue.path.map(String).join(".");
  const fields = issue.keys.map((key) => `'${parent === "" ? key : `${parent}.${key}`}'`);
  let shape: unknown = SNAPSHOT_SCHEMA;
  for (const key of issue.path) shape = unwrapped(shape)?.shape?.[key as string];
  const known = Object.keys(unwrapped(shape)?.shape ?? {});
  return `${fields.join(", ")} ${
    fields.length === 1 ? "is not a snapshot field" : "are not snapshot fields"
  }` +
    ` (${parent === "" ? "a snapshot" : `'${parent}'`} has ${known.join(", ")})`;
}

// An object schema's shape, through one optional wrapper.
function unwrapped(schema: unknown): { shape?: Record<string, unknown> } | undefined {
  const s = schema as { shape?: Record<string, unknown>; unwrap?: () => unknown } | undefined;
  if (s?.shape === undefined && typeof s?.unwrap === "function") {
    return s.unwrap() as { shape?: Record<string, unknown> };
  }
  return s;
}

const SEVERITIES = ["info", "warning", "critical"] as const;
const PEER_ID = z.string().regex(/^[1-9A-HJ-NP-Za-km-z]{40,60}$/, "must be a peer ID");
const LABELS = z.record(z.string().max(64), z.string().max(256)).refine(
  (labels) => Object.keys(labels).length <= 16,
  "at most 16 labels",
);

/** Schema of every action a policy may return (anything else is an invalid result). */
export const ACTION_SCHEMA = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("throttle"),
    factor: z.number().gt(0).max(1),
    forMs: z.number().int().positive().max(86_400_000),
  }),
  z.strictObject({
    type: z.literal("setLimit"),
    key: z.string().min(1).max(64),
    value: z.number().min(0),
  }),
  z.strictObject({ type: z.literal("drain") }),
  z.strictObject({ type: z.literal("resume") }),
  z.strictObject({ type: z.literal("restart") }),
  z.strictObject({
    type: z.literal("ban"),
    peer: PEER_ID.optional(),
    cidr: z.string().regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, "must be an IP or CIDR").optional(),
    ttlMs: z.number().int().positive().max(30 * 86_400_000),
    reason: z.string().max(200).optional(),
  }).refine((a) => (a.peer === undefined) !== (a.cidr === undefined), {
    message: "ban needs exactly one of peer or cidr",
  }),
  z.strictObject({ type: z.literal("disconnect"), peer: PEER_ID }),
  z.strictObject({
    type: z.literal("alert"),
    severity: z.enum(SEVERITIES),
    summary: z.string().min(1).max(500),
    labels: LABELS.optional(),
  }),
  z.strictObject({ type: z.literal("setWeight"), weight: z.number().min(0).max(1000) }),
  z.strictObject({ type: z.literal("runHook"), name: z.string().regex(/^[A-Za-z0-9_-]+$/) }),
]);

/**
 * An action a policy asks the host to take (docs/POLICIES.md describes each). Written out
 * rather than inferred from {@linkcode ACTION_SCHEMA} so it reads in the docs; the compiler
 * checks below that the two stay the same type.
 */
export type Action =
  /** Scale every rate limit and bandwidth cap by `factor` (0 < factor ≤ 1) for `forMs`. */
  | { type: "throttle"; factor: number; forMs: number }
  /** Set one live limit (a key of `snapshot.limits`) to `value`. */
  | { type: "setLimit"; key: string; value: number }
  /** Refuse new connections and reservations; /ready turns 503. */
  | { type: "drain" }
  /** End a drain. */
  | { type: "resume" }
  /** Drain, then exit for systemd to restart the node (within the restart budget). */
  | { type: "restart" }
  /** Ban exactly one of a peer or a CIDR for `ttlMs`. */
  | { type: "ban"; peer?: string; cidr?: string; ttlMs: number; reason?: string }
  /** Close every connection of a peer. */
  | { type: "disconnect"; peer: string }
  /** Raise an alert: the log, `hopd_alerts_total`, and the configured webhook/Alertmanager. */
  | {
    type: "alert";
    severity: "info" | "warning" | "critical";
    summary: string;
    labels?: Record<string, string>;
  }
  /** Set this relay's balancer weight (federation). */
  | { type: "setWeight"; weight: number }
  /** Run a command declared in `policy.hooks`, by name. */
  | { type: "runHook"; name: string };
/** The action types, in documentation order: read off the schema, so there is one list. */
export const ACTION_TYPES: readonly Action["type"][] = ACTION_SCHEMA.options.map((option) =>
  option.shape.type.value
);

/** Schema of what `evaluate()` returns. */
export const RESULT_SCHEMA = z.strictObject({
  verdict: z.enum(VERDICTS),
  reasons: z.array(z.string().max(500)).max(32).default([]),
  actions: z.array(ACTION_SCHEMA).max(32).default([]),
});

/** What one evaluation of a policy returned, validated by {@linkcode RESULT_SCHEMA}. */
export interface PolicyResult {
  /** The policy's judgement of the node's health. */
  verdict: Verdict;
  /** Why, in a few words each (shown in /ready, /v1/policies and the decision log). */
  reasons: string[];
  /** What the policy asks the host to do; the host's rails and mode decide what runs. */
  actions: Action[];
}

// The written-out types above are the schemas' own: each assignment fails to compile when
// a schema and its type drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _ACTION_IS_SCHEMA_OUTPUT: Same<Action, z.output<typeof ACTION_SCHEMA>> = true;
const _RESULT_IS_SCHEMA_OUTPUT: Same<PolicyResult, z.output<typeof RESULT_SCHEMA>> = true;

/** The answer of an admission plugin hook. */
export const ADMISSION_SCHEMA = z.strictObject({
  accept: z.boolean(),
  reason: z.string().max(200).optional(),
});

/** The answer of an admission plugin hook, validated. */
export type AdmissionAnswer = z.output<typeof ADMISSION_SCHEMA>;

/**
 * Describes the first problem of a value that failed a schema, for the log and
 * /v1/policies: "actions.0.factor: Too big: expected number to be <=1".
 */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}
