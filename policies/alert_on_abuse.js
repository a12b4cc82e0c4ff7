// Alert on abuse spikes: many rate-limiter rejections or relay refusals in one tick usually
// mean a flood or a misbehaving client fleet. It alerts (warning, then critical) and marks
// the node degraded; banning is left to the operator, who sees the top talkers in the alert.

const WARN_PER_TICK = 500;
const CRITICAL_PER_TICK = 5_000;

/** @param {import("./hopd.d.ts").Snapshot} snapshot */
export function evaluate(snapshot) {
  const rejected = Object.values(snapshot.limiter.rejections).reduce((a, b) => a + b, 0) +
    Object.values(snapshot.relay.refusals).reduce((a, b) => a + b, 0);
  if (rejected < WARN_PER_TICK) return { verdict: "healthy", reasons: [], actions: [] };
  const severity = rejected >= CRITICAL_PER_TICK ? "critical" : "warning";
  const top = snapshot.limiter.topTalkers.slice(0, 3).map((t) => t.peer).join(", ");
  return {
    verdict: "degraded",
    reasons: [`${rejected} rejections and refusals in one tick`],
    actions: [{
      type: "alert",
      severity,
      summary: `Abuse spike on ${snapshot.node.peerId}: ${rejected} rejections in one tick`,
      labels: { alertname: "HopdAbuseSpike", top_talkers: top },
    }],
  };
}
