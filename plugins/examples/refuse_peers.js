// Refuse reservations and circuits from a set of peers the operator lists here (for example
// abusive peers you do not want to ban by IP). To use it, copy it (and its _test.js) into
// the plugins directory, list the peers in REFUSED and save: it loads live. It ships here, not
// active, because every active admission hook adds a sandbox call to each reservation.

const REFUSED = new Set([
  // "12D3KooW...",
]);

/** @param {import("../../policies/hopd.d.ts").ReservationEvent} event */
export function onReservation(event) {
  return REFUSED.has(event.peer)
    ? { accept: false, reason: "peer is on the refused list" }
    : { accept: true };
}

/** @param {import("../../policies/hopd.d.ts").CircuitEvent} event */
export function onCircuit(event) {
  return REFUSED.has(event.source)
    ? { accept: false, reason: "source peer is on the refused list" }
    : { accept: true };
}
