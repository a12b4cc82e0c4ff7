// Run the operator's scale-up hook on sustained load: when reservations stay above 80% of
// capacity for five ticks in a row (ctx.history), ask for the hook declared as "scale_up" in
// [policy] hooks. Without that declaration the host records the action as undeclared.

const CAPACITY = 16_384; // relay.max_reservations
const HIGH = 0.8 * CAPACITY;
const SUSTAINED_TICKS = 5;

/** @param {import("./hopd.d.ts").Snapshot} snapshot @param {import("./hopd.d.ts").Context} ctx */
export function evaluate(snapshot, ctx) {
  const recent = [snapshot, ...ctx.history(SUSTAINED_TICKS - 1)];
  const sustained = recent.length >= SUSTAINED_TICKS &&
    recent.every((s) => s.relay.reservations >= HIGH);
  if (!sustained) return { verdict: "healthy", reasons: [], actions: [] };
  return {
    verdict: "degraded",
    reasons: [`reservations above ${HIGH} for ${SUSTAINED_TICKS} ticks`],
    actions: [{ type: "runHook", name: "scale_up" }],
  };
}
