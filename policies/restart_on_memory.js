// Restart hopd gracefully when its memory stays too high: a slow leak is cheaper to cure
// with a drained restart than with an out-of-memory kill. The host's restart budget
// (policy.restart_budget per policy.restart_window) caps how often this can fire; past it
// the restart becomes an alert until an operator resets the budget.

/** Resident memory at which the node is degraded, then restarted. */
const DEGRADED_RSS_BYTES = 1.5 * 1024 ** 3;
const RESTART_RSS_BYTES = 2 * 1024 ** 3;

/** @param {import("./hopd.d.ts").Snapshot} snapshot */
export function evaluate(snapshot) {
  const rss = snapshot.process.rssBytes;
  const mib = Math.round(rss / 1024 ** 2);
  if (rss >= RESTART_RSS_BYTES) {
    return {
      verdict: "unhealthy",
      reasons: [`resident memory ${mib} MiB is above ${RESTART_RSS_BYTES / 1024 ** 2} MiB`],
      actions: [
        { type: "alert", severity: "critical", summary: `hopd memory at ${mib} MiB: restarting` },
        { type: "restart" },
      ],
    };
  }
  if (rss >= DEGRADED_RSS_BYTES) {
    return { verdict: "degraded", reasons: [`resident memory ${mib} MiB is high`], actions: [] };
  }
  return { verdict: "healthy", reasons: [], actions: [] };
}
