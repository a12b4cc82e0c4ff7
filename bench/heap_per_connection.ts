// What one held reservation costs in hopd's V8 heap, by kind of object (issue 3's memory
// figure, at the level where it can be changed). hopd runs as in bench/reservation_memory.ts
// (limits and policy engine off); a heap snapshot is taken after a forced full GC when idle
// and again with N stock js-libp2p clients each holding a reservation, and the two are
// compared by constructor (self sizes, so nothing is counted twice). Prints the live heap per
// connection, the largest kinds and the `Buffer` pools (8 KiB) that long-lived slices pin.
//
//   deno run -A bench/heap_per_connection.ts [--reservations 3000] [--top 25]
//
// Prints text lines and one JSON document at the end.

import { numberArg } from "./_args.ts";
import { startHopd, startWorker } from "./relay_vs_stock/_children.ts";
import { freePort, heapSnapshot } from "./relay_vs_stock/_inspector.ts";

const RESERVATIONS = numberArg("--reservations", 3_000);
const TOP = numberArg("--top", 25);
const BUFFER_POOL_BYTES = 8_192;

interface Kind {
  count: number;
  bytes: number;
}

interface Summary {
  totalBytes: number;
  kinds: Map<string, Kind>;
  pinnedPools: number;
}

/** Self sizes by constructor (or by V8's node type for non-objects) of one snapshot. */
function summarize(json: string): Summary {
  const snapshot = JSON.parse(json);
  const meta = snapshot.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types: string[] = meta.node_types[0];
  const nodes: number[] = snapshot.nodes;
  const strings: string[] = snapshot.strings;
  const kinds = new Map<string, Kind>();
  let totalBytes = 0;
  let pinnedPools = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const name = strings[nodes[i + nameAt]!]!;
    const size = nodes[i + sizeAt]!;
    const key = type === "object"
      ? name
      : type === "native" || type === "closure" || type === "array"
      ? `(${type}) ${name.slice(0, 60)}`
      : `(${type})`;
    if (type === "native" && name === "system / JSArrayBufferData" && size === BUFFER_POOL_BYTES) {
      pinnedPools++;
    }
    totalBytes += size;
    const kind = kinds.get(key) ?? { count: 0, bytes: 0 };
    kind.count++;
    kind.bytes += size;
    kinds.set(key, kind);
  }
  return { totalBytes, kinds, pinnedPools };
}

const port = freePort();
const relay = await startHopd([`--inspect=127.0.0.1:${port}`]);
let worker: ReturnType<typeof startWorker> | undefined;
let idle: Summary;
let held: Summary;
try {
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  idle = summarize(await heapSnapshot(port));
  worker = startWorker("reserve", relay.tcpAddr, String(RESERVATIONS), "20");
  const done = await worker.next((m) => m.done === true, 900_000);
  if (Number(done.reserved) !== RESERVATIONS) throw new Error(`reserved ${done.reserved}`);
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  held = summarize(await heapSnapshot(port));
} finally {
  await worker?.stop();
  await relay.stop();
}

const per = (bytes: number) => Math.round(bytes / RESERVATIONS);
const rows = [...held.kinds].map(([name, kind]) => {
  const before = idle.kinds.get(name) ?? { count: 0, bytes: 0 };
  return {
    name,
    perConnection: Number(((kind.count - before.count) / RESERVATIONS).toFixed(2)),
    bytesPerConnection: per(kind.bytes - before.bytes),
  };
}).sort((a, b) => b.bytesPerConnection - a.bytesPerConnection).slice(0, TOP);
const liveBytesPerConnection = per(held.totalBytes - idle.totalBytes);
console.log(`live heap per held reservation: ${liveBytesPerConnection} B`);
console.log(
  `8 KiB Buffer pools pinned: ${held.pinnedPools} (idle ${idle.pinnedPools}), ` +
    `${per((held.pinnedPools - idle.pinnedPools) * BUFFER_POOL_BYTES)} B per reservation`,
);
for (const row of rows) {
  console.log(
    `${row.perConnection.toFixed(2).padStart(7)} x ${
      String(row.bytesPerConnection).padStart(5)
    } B  ${row.name}`,
  );
}
console.log(JSON.stringify({
  bench: "heap_per_connection",
  date: new Date(),
  reservations: RESERVATIONS,
  liveBytesPerConnection,
  pinnedPools: { idle: idle.pinnedPools, held: held.pinnedPools },
  top: rows,
}));
