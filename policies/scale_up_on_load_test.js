// Reservations are stated against the node's own limit (snapshot.limits), never against a
// number copied from the config.
const at = (reservations, maxReservations) => ({
  relay: { reservations },
  limits: { maxReservations },
});
const busy = at(15_000, 16_384);

export const cases = [
  {
    name: "one busy tick is not sustained load",
    snapshot: busy,
    history: [],
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "five busy ticks run the scale-up hook",
    snapshot: busy,
    history: [busy, busy, busy, busy],
    expect: {
      verdict: "degraded",
      reasons: ["above 13108 (80% of 16384)"],
      actions: [{ type: "runHook", name: "scale_up" }],
    },
  },
  {
    name: "a quiet tick in the window breaks the run",
    snapshot: busy,
    history: [busy, {}, busy, busy],
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "the same count is not busy under a raised limit",
    snapshot: at(15_000, 100_000),
    history: [at(15_000, 100_000), at(15_000, 100_000), at(15_000, 100_000), at(15_000, 100_000)],
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "a lowered limit makes a smaller count busy",
    snapshot: at(900, 1_000),
    history: [at(850, 1_000), at(820, 1_000), at(810, 1_000), at(800, 1_000)],
    expect: {
      verdict: "degraded",
      reasons: ["above 800 (80% of 1000)"],
      actions: [{ type: "runHook", name: "scale_up" }],
    },
  },
  {
    name: "without a reservation limit there is no capacity to fill",
    snapshot: at(1_000_000, 0),
    history: [at(1_000_000, 0), at(1_000_000, 0), at(1_000_000, 0), at(1_000_000, 0)],
    expect: { verdict: "healthy", actions: [] },
  },
];
