// js-libp2p 3.3.11 lists connections with `conns = conns.concat(c)` per peer (quadratic), on
// every inbound connection; src/host/connection_list.ts lists them in linear time. This times
// one listing at the connection counts hopd holds.
//
//   deno bench bench/connection_list_bench.ts

import type { Connection } from "@libp2p/interface";
import { listConnections } from "../src/host/connection_list.ts";

for (const count of [1_000, 8_000]) {
  const map = new Map<string, Connection[]>();
  for (let i = 0; i < count; i++) map.set(`peer${i}`, [{ id: i } as unknown as Connection]);
  const group = `${count} connections`;
  Deno.bench(`js-libp2p concat loop, ${count}`, { group, baseline: true }, () => {
    let conns: Connection[] = [];
    for (const c of map.values()) conns = conns.concat(c);
    if (conns.length !== count) throw new Error("lost connections");
  });
  Deno.bench(`listConnections, ${count}`, { group }, () => {
    if (listConnections(map).length !== count) throw new Error("lost connections");
  });
}
