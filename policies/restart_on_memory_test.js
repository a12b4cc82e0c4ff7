// Fixtures state the resident memory as what the load explains (the policy's allowances:
// 256 MiB, 128 KiB per reservation, 384 KiB per circuit) plus the unexplained part `u`, and
// give the trend as ctx.state.samples, one a minute over the last 30 minutes.

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
const MINUTE = 60_000;
const NOW = Date.UTC(2026, 0, 1, 12);

const explainedMib = (r, c) => 256 + r * 0.125 + c * 0.375;

/** A snapshot at NOW with `r` reservations, `c` circuits and `u` MiB unexplained. */
function at({ r, c, u, rss, budget = 0, uptimeSeconds = 3600 }) {
  return {
    now: NOW,
    node: { uptimeSeconds },
    process: { rssBytes: Math.round((rss ?? explainedMib(r, c) + u) * MIB) },
    relay: { reservations: r, circuits: c },
    limits: { memoryMaxBytes: budget },
  };
}

/** 30 samples a minute apart before NOW; `f(i)` gives sample i's {u, r, c}. */
function samples(f) {
  return Array.from({ length: 30 }, (_, i) => ({ t: NOW - (30 - i) * MINUTE, ...f(i) }));
}

const flatLoad = { r: 1_000, c: 50 };

export const cases = [
  {
    name: "an idle node is healthy",
    snapshot: {},
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "a full node at the default capacity is healthy, above the old 2 GiB restart",
    // 16,384 reservations and 4,096 circuits; 2.5 GiB resident after a 30-minute ramp.
    snapshot: at({ r: 16_384, c: 4_096, rss: 2.5 * 1024 }),
    state: {
      samples: samples((i) => ({ u: 0, r: Math.round(16_384 * i / 30), c: 4_096 * i / 30 })),
    },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "a full node with 115 KB per reservation (the highest measured) is healthy",
    snapshot: at({ r: 16_384, c: 0, rss: 256 + 16_384 * 115_000 / MIB }),
    state: { samples: samples(() => ({ u: 0, r: 16_384, c: 0 })) },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "memory growing while the load is flat is a leak: alert and restart",
    snapshot: at({ ...flatLoad, u: 700 }),
    state: { samples: samples((i) => ({ ...flatLoad, u: 100 + 20 * i })) },
    expect: {
      verdict: "unhealthy",
      reasons: ["700 MiB of resident memory not explained", "up 600 MiB in 30 min"],
      actions: [
        {
          type: "alert",
          severity: "critical",
          summary: "hopd leaks memory (1100 MiB resident): restarting",
        },
        { type: "restart" },
      ],
    },
  },
  {
    name: "a leak still below 512 MiB unexplained degrades without acting",
    snapshot: at({ ...flatLoad, u: 410 }),
    state: { samples: samples((i) => ({ ...flatLoad, u: 100 + 10 * i })) },
    expect: { verdict: "degraded", reasons: ["up 310 MiB"], actions: [] },
  },
  {
    name: "memory that grew with the load is not a leak",
    snapshot: at({ r: 6_000, c: 50, u: 700 }),
    state: { samples: samples((i) => ({ r: 1_000 + 170 * i, c: 50, u: 100 + 20 * i })) },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "memory kept after the load left degrades while it does not grow",
    snapshot: at({ r: 10, c: 0, rss: 1.5 * 1024 }),
    state: { samples: samples(() => ({ r: 10, c: 0, u: 1278 })) },
    expect: { verdict: "degraded", reasons: ["not explained by load (not growing)"], actions: [] },
  },
  {
    name: "a fall back between two samples (garbage collected) is no steady leak",
    snapshot: at({ ...flatLoad, u: 700 }),
    state: {
      samples: samples((i) => ({ ...flatLoad, u: i === 15 ? 200 : 100 + 20 * i })),
    },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "samples from before the process started are not a trend",
    snapshot: at({ ...flatLoad, u: 700, uptimeSeconds: 300 }),
    state: { samples: samples((i) => ({ ...flatLoad, u: 100 + 20 * i })) },
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "a memory budget brings the restart forward: a leak at 83% of MemoryMax",
    snapshot: at({ ...flatLoad, rss: 850, budget: GIB }),
    state: { samples: samples((i) => ({ ...flatLoad, u: 150 + 10 * i })) },
    expect: {
      verdict: "unhealthy",
      actions: [
        {
          type: "alert",
          severity: "critical",
          summary: "hopd leaks memory (850 MiB resident): restarting",
        },
        { type: "restart" },
      ],
    },
  },
  {
    name: "near the memory budget without a leak degrades without acting",
    snapshot: at({ ...flatLoad, rss: 950, budget: GIB }),
    state: { samples: samples(() => ({ ...flatLoad, u: 550 })) },
    expect: { verdict: "degraded", reasons: ["93% of the memory budget (1024 MiB)"], actions: [] },
  },
];
