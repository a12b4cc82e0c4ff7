// Run the operator's scale-up hook on sustained load: when reservations stay above 80% of the
// node's capacity (snapshot.limits.maxReservations, the configured relay.max_reservations)
// for five ticks in a row (ctx.history), ask for the hook declared as "scale_up" in
// [policy] hooks. Without that declaration the host records the action as undeclared.
// Without a reservation limit (0 = unlimited) there is no capacity to measure against.

const HIGH_FRACTION = 0.8;
const SUSTAINED_TICKS = 5;

/** @param {import("./hopd.d.ts").Snapshot} snapshot @param {import("./hopd.d.ts").Context} ctx */
export function evaluate(snapshot, ctx) {
  const capacity = snapshot.limits.maxReservations;
  if (capacity === 0) return { verdict: "healthy", reasons: [], actions: [] };
  const high = Math.ceil(HIGH_FRACTION * capacity);
  const recent = [snapshot, ...ctx.history(SUSTAINED_TICKS - 1)];
  const sustained = recent.length >= SUSTAINED_TICKS &&
    recent.every((s) => s.relay.reservations >= high);
  if (!sustained) return { verdict: "healthy", reasons: [], actions: [] };
  return {
    verdict: "degraded",
    reasons: [
      `reservations above ${high} (${
        HIGH_FRACTION * 100
      }% of ${capacity}) for ${SUSTAINED_TICKS} ticks`,
    ],
    actions: [{ type: "runHook", name: "scale_up" }],
  };
}
