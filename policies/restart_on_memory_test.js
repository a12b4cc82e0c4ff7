export const cases = [
  {
    name: "an idle node is healthy",
    snapshot: {},
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "high memory degrades without acting",
    snapshot: { process: { rssBytes: 1.6 * 1024 ** 3 } },
    expect: { verdict: "degraded", actions: [] },
  },
  {
    name: "memory above the limit asks for a restart and alerts",
    snapshot: { process: { rssBytes: 2.5 * 1024 ** 3 } },
    expect: {
      verdict: "unhealthy",
      reasons: ["above 2048 MiB"],
      actions: [
        { type: "alert", severity: "critical", summary: "hopd memory at 2560 MiB: restarting" },
        { type: "restart" },
      ],
    },
  },
];
