export const cases = [
  {
    name: "fast setups are healthy",
    snapshot: { relay: { setupLatencyMs: { p50: 2, p99: 8, count: 500 } } },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "a handful of slow setups is not a signal",
    snapshot: { relay: { setupLatencyMs: { p50: 300, p99: 900, count: 3 } } },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "slow p99 throttles by half for a minute",
    snapshot: { relay: { setupLatencyMs: { p50: 40, p99: 400, count: 200 } } },
    expect: {
      verdict: "degraded",
      reasons: ["p99 400 ms"],
      actions: [{ type: "throttle", factor: 0.5, forMs: 60000 }],
    },
  },
];
