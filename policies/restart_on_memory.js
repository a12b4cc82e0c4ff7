// Restart hopd gracefully when it leaks: memory that the load does not explain, growing while
// the load stays flat. A full node is not a leak: each reservation and circuit is allowed the
// memory measured for it, so only what is left over is judged. A slow leak is cheaper to cure
// with a drained restart than with an out-of-memory kill. The host's restart budget
// (policy.restart_budget per policy.restart_window) caps how often this can fire; past it the
// restart becomes an alert until an operator resets the budget.
//
// Where the allowances come from (bench/RESULTS.md; docs/POLICIES.md says more):
// - per reservation: RSS per held reservation measured 34–79 KiB (medians over a 120 s hold,
//   bench/reservation_memory.ts, bench/reservations_held.ts, bench/relay_vs_stock.ts), single
//   samples up to 100 KiB, and 115 KB with Node clients; 128 KiB is above all of them;
// - per circuit: RSS per open circuit 7–14 KiB (medians at 4,000 and 1,000 held, samples up
//   to 42 KiB; bench/circuit_memory.ts) plus up to 128 KiB of data in flight per direction
//   (relay.circuit_data's default) rounds up to 384 KiB;
// - the node itself: an idle node with the shipped policies, rounded up to 256 MiB.

const MIB = 1024 ** 2;
const BASE_BYTES = 256 * MIB;
const PER_RESERVATION_BYTES = 128 * 1024;
const PER_CIRCUIT_BYTES = 384 * 1024;

/** One sample of the unexplained memory a minute, 31 kept: a 30-minute trend. */
const SAMPLE_EVERY_MS = 60_000;
const SAMPLES_KEPT = 31;
/** A trend needs this much time between its first and last sample. */
const TREND_MIN_MS = 20 * 60_000;
/** A leak: unexplained memory grew by this much over the trend, never falling back more than
 * STEP_NOISE between two samples (garbage collection), while load stayed flat. */
const LEAK_GROWTH_BYTES = 256 * MIB;
const STEP_NOISE_BYTES = 64 * MIB;
/** Flat load: reservations (and circuits) varied by at most 10% of their highest, plus 50. */
const FLAT_FRACTION = 0.1;
const FLAT_SLACK = 50;
/** A leak is restarted once this much memory is unexplained, or RSS reaches 80% of the
 * memory budget (snapshot.limits.memoryMaxBytes, systemd's MemoryMax=). */
const RESTART_UNEXPLAINED_BYTES = 512 * MIB;
const BUDGET_RESTART_FRACTION = 0.8;
/** Degraded without a leak: this much unexplained, or RSS at 90% of the memory budget. */
const DEGRADED_UNEXPLAINED_BYTES = 1024 * MIB;
const BUDGET_DEGRADED_FRACTION = 0.9;

const mib = (bytes) => Math.round(bytes / MIB);
const healthy = () => ({ verdict: "healthy", reasons: [], actions: [] });

/** @param {import("./hopd.d.ts").Snapshot} snapshot @param {import("./hopd.d.ts").Context} ctx */
export function evaluate(snapshot, ctx) {
  const rss = snapshot.process.rssBytes;
  const { reservations, circuits } = snapshot.relay;
  const explained = BASE_BYTES + reservations * PER_RESERVATION_BYTES +
    circuits * PER_CIRCUIT_BYTES;
  const unexplained = Math.max(0, rss - explained);
  const samples = remember(ctx.state, snapshot, unexplained);
  const leak = leakOf(samples);
  const budget = snapshot.limits.memoryMaxBytes;
  const ofBudget = budget > 0 ? rss / budget : 0;

  if (leak !== undefined) {
    const reason = `${mib(unexplained)} MiB of resident memory not explained by ` +
      `${reservations} reservations and ${circuits} circuits, up ${leak.growthMib} MiB in ` +
      `${leak.minutes} min while the load stayed flat`;
    if (unexplained >= RESTART_UNEXPLAINED_BYTES || ofBudget >= BUDGET_RESTART_FRACTION) {
      return {
        verdict: "unhealthy",
        reasons: [reason],
        actions: [
          {
            type: "alert",
            severity: "critical",
            summary: `hopd leaks memory (${mib(rss)} MiB resident): restarting`,
          },
          { type: "restart" },
        ],
      };
    }
    return { verdict: "degraded", reasons: [reason], actions: [] };
  }
  if (ofBudget >= BUDGET_DEGRADED_FRACTION) {
    return {
      verdict: "degraded",
      reasons: [
        `resident memory ${mib(rss)} MiB is ${Math.round(ofBudget * 100)}% of the memory ` +
        `budget (${mib(budget)} MiB)`,
      ],
      actions: [],
    };
  }
  if (unexplained >= DEGRADED_UNEXPLAINED_BYTES) {
    return {
      verdict: "degraded",
      reasons: [`${mib(unexplained)} MiB of resident memory not explained by load (not growing)`],
      actions: [],
    };
  }
  return healthy();
}

/**
 * Adds a sample (at most one a minute) to ctx.state.samples and returns the samples of this
 * run of the process: ctx.state survives restarts, a trend must not.
 */
function remember(state, snapshot, unexplained) {
  const startedAt = snapshot.now - snapshot.node.uptimeSeconds * 1000;
  const kept = (Array.isArray(state.samples) ? state.samples : [])
    .filter((s) => s.t >= startedAt && s.t <= snapshot.now);
  const last = kept.at(-1);
  if (last === undefined || snapshot.now - last.t >= SAMPLE_EVERY_MS) {
    kept.push({
      t: snapshot.now,
      u: mib(unexplained),
      r: snapshot.relay.reservations,
      c: snapshot.relay.circuits,
    });
  }
  state.samples = kept.slice(-SAMPLES_KEPT);
  return state.samples;
}

/** The leak the samples show (growth in MiB over minutes), or undefined. */
function leakOf(samples) {
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last.t - first.t < TREND_MIN_MS) return undefined;
  const growthMib = last.u - first.u;
  if (growthMib < mib(LEAK_GROWTH_BYTES)) return undefined;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i].u < samples[i - 1].u - mib(STEP_NOISE_BYTES)) return undefined;
  }
  if (!flat(samples.map((s) => s.r)) || !flat(samples.map((s) => s.c))) return undefined;
  return { growthMib, minutes: Math.round((last.t - first.t) / 60_000) };
}

function flat(values) {
  const high = Math.max(...values);
  return high - Math.min(...values) <= high * FLAT_FRACTION + FLAT_SLACK;
}
