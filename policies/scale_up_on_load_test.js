const busy = { relay: { reservations: 15_000 } };

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
    expect: { verdict: "degraded", actions: [{ type: "runHook", name: "scale_up" }] },
  },
  {
    name: "a quiet tick in the window breaks the run",
    snapshot: busy,
    history: [busy, {}, busy, busy],
    expect: { verdict: "healthy", actions: [] },
  },
];
