// The hole-punch suite's arithmetic: percentiles of the hole punch times and hopd's view of a
// cell's circuits read from its histograms. The suite itself runs in `deno task interop`.
import assert from "node:assert/strict";
import { directNeeded, NAT_SETTINGS, percentile, relayView } from "./holepunch.ts";

Deno.test("percentile() takes the nearest rank", () => {
  assert.equal(percentile([], 50), undefined);
  assert.equal(percentile([30, 10, 20], 50), 20);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  assert.equal(percentile([7], 99), 7);
});

Deno.test("relayView() counts short, small circuits ended by a peer and the relay's cuts", () => {
  const text = [
    'hopd_circuit_duration_seconds_bucket{le="1",ended_by="initiator"} 3',
    'hopd_circuit_duration_seconds_bucket{le="1",ended_by="target"} 1',
    'hopd_circuit_duration_seconds_bucket{le="1",ended_by="relay"} 0',
    'hopd_circuit_duration_seconds_count{ended_by="initiator"} 4',
    'hopd_circuit_duration_seconds_count{ended_by="target"} 1',
    'hopd_circuit_duration_seconds_count{ended_by="relay"} 2',
    'hopd_circuit_bytes_bucket{le="16384",ended_by="initiator"} 2',
    'hopd_circuit_bytes_bucket{le="16384",ended_by="target"} 1',
    'hopd_circuit_bytes_bucket{le="16384",ended_by="relay"} 0',
    'hopd_circuit_bytes_sum{ended_by="initiator"} 7000',
    'hopd_circuit_bytes_sum{ended_by="target"} 0',
    'hopd_circuit_bytes_sum{ended_by="relay"} 700000',
    'hopd_circuits_closed_total{reason="duration_limit"} 2',
  ].join("\n");
  assert.deepEqual(relayView(text), {
    circuits: 7,
    endedByPeerShort: 3, // initiator: min(3 short, 2 small); target: min(1, 1)
    endedByRelay: 2,
    durationLimit: 2,
    meanBytes: 101_000,
  });
});

Deno.test("directNeeded() asks every attempt to hole punch but with a rust listener", () => {
  const nat = (name: string) => NAT_SETTINGS.find((n) => n.name === name)!;
  const needed = (dialer: "go" | "rust" | "node", listener: "go" | "rust" | "node", n: string) =>
    directNeeded({ dialer, listener, nat: nat(n), attempts: 20 });
  assert.equal(needed("go", "go", "public"), 20);
  assert.equal(needed("rust", "go", "public"), 20);
  assert.equal(needed("rust", "go", "eim"), 20);
  assert.equal(needed("go", "go", "eim"), 20);
  assert.equal(needed("go", "rust", "public"), 7);
  assert.equal(needed("go", "rust", "eim"), 7);
  assert.equal(needed("rust", "rust", "eim"), 7);
  assert.equal(needed("rust", "rust", "public"), 7);
  assert.equal(
    directNeeded({ dialer: "rust", listener: "rust", nat: nat("public"), attempts: 3 }),
    1,
  );
  assert.equal(needed("rust", "rust", "symmetric"), 0);
  assert.equal(needed("node", "go", "eim"), 0);
});
