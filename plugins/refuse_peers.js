// Refuse reservations and circuits from a set of peers the operator lists here (for example
// abusive peers you do not want to ban by IP). Edit REFUSED and save: it reloads live.

const REFUSED = new Set([
  // "12D3KooW...",
]);

/** @param {import("../policies/hopd.d.ts").ReservationEvent} event */
export function onReservation(event) {
  return REFUSED.has(event.peer)
    ? { accept: false, reason: "peer is on the refused list" }
    : { accept: true };
}

/** @param {import("../policies/hopd.d.ts").CircuitEvent} event */
export function onCircuit(event) {
  return REFUSED.has(event.source)
    ? { accept: false, reason: "source peer is on the refused list" }
    : { accept: true };
}
