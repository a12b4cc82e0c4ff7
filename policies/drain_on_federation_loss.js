// Drain when this relay has lost its federation: a relay that cannot see its peers cannot be
// steered by the balancer, so it stops taking new reservations (open ones are kept) and
// resumes when the federation is back. Without federation configured it has no opinion.

/** @param {import("./hopd.d.ts").Snapshot} snapshot @param {import("./hopd.d.ts").Context} ctx */
export function evaluate(snapshot, ctx) {
  const federation = snapshot.federation;
  if (federation === undefined) return { verdict: "healthy", reasons: [], actions: [] };
  const others = federation.members.alive + federation.members.suspect +
    federation.members.dead - 1;
  const lost = others > 0 && federation.connectedMembers === 0;
  if (lost) {
    ctx.state.drainedAt ??= snapshot.now;
    return {
      verdict: "unhealthy",
      reasons: [`connected to none of ${others} federation members`],
      actions: snapshot.node.draining ? [] : [{ type: "drain" }],
    };
  }
  if (ctx.state.drainedAt !== undefined) {
    delete ctx.state.drainedAt;
    return { verdict: "healthy", reasons: ["federation is back"], actions: [{ type: "resume" }] };
  }
  return { verdict: "healthy", reasons: [], actions: [] };
}
