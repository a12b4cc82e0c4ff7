// Throttle new work when circuit setup gets slow: halve the limiter's rates for a minute
// while the p99 setup latency is high, so the circuits already open keep their quality.
// The host's hysteresis makes one slow tick not enough.

const SLOW_P99_MS = 250;
const DEGRADED_P99_MS = 100;
/** Setups a tick must have for its p99 to mean something. */
const MIN_SETUPS = 20;

/** @param {import("./hopd.d.ts").Snapshot} snapshot */
export function evaluate(snapshot) {
  const { p99, count } = snapshot.relay.setupLatencyMs;
  if (p99 === undefined || count < MIN_SETUPS) {
    return { verdict: "healthy", reasons: [], actions: [] };
  }
  if (p99 >= SLOW_P99_MS) {
    return {
      verdict: "degraded",
      reasons: [`circuit setup p99 ${p99} ms over ${count} setups`],
      actions: [{ type: "throttle", factor: 0.5, forMs: 60_000 }],
    };
  }
  if (p99 >= DEGRADED_P99_MS) {
    return { verdict: "degraded", reasons: [`circuit setup p99 ${p99} ms`], actions: [] };
  }
  return { verdict: "healthy", reasons: [], actions: [] };
}
