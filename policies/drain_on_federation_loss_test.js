const federation = (connectedMembers) => ({
  members: { alive: 1, suspect: 0, dead: 2 },
  connectedMembers,
  oldestReportAgeMs: 0,
});

export const cases = [
  {
    name: "no federation, no opinion",
    snapshot: {},
    expect: { verdict: "healthy", actions: [] },
  },
  {
    name: "losing every member drains",
    snapshot: { federation: federation(0) },
    expect: { verdict: "unhealthy", reasons: ["none of 2"], actions: [{ type: "drain" }] },
  },
  {
    name: "already draining does not ask again",
    snapshot: { federation: federation(0), node: { draining: true } },
    expect: { verdict: "unhealthy", actions: [] },
  },
  {
    name: "members back after a drain resumes",
    snapshot: { federation: federation(2) },
    state: { drainedAt: 1 },
    expect: { verdict: "healthy", actions: [{ type: "resume" }] },
  },
];
