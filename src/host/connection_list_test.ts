import assert from "node:assert/strict";
import { loopbackNode } from "./testing.ts";
import type { Connection } from "@libp2p/interface";
import { linearConnectionListing, listConnections } from "./connection_list.ts";

Deno.test("listConnections() lists what js-libp2p's concat loop lists, in the same order", () => {
  const map = new Map<string, Connection[]>();
  for (let peer = 0; peer < 50; peer++) {
    map.set(
      `p${peer}`,
      Array.from(
        { length: peer % 3 + 1 },
        (_, i) => ({ id: `${peer}.${i}` }) as unknown as Connection,
      ),
    );
  }
  let concatenated: Connection[] = [];
  for (const connections of map.values()) concatenated = concatenated.concat(connections);
  assert.deepEqual(listConnections(map), concatenated);
});

Deno.test("linearConnectionListing() patches a real libp2p node, which still lists its connections", async () => {
  const [a, b] = [await loopbackNode(), await loopbackNode()];
  try {
    assert.equal(linearConnectionListing(a), true);
    await a.dial(b.getMultiaddrs()[0]!);
    assert.equal(a.getConnections().length, 1);
    assert.equal(a.getConnections(b.peerId).length, 1);
    assert.equal(a.getConnections(a.peerId).length, 0);
    assert.equal(linearConnectionListing({} as never), false);
    // Another js-libp2p: left alone, even when shaped alike.
    const [c] = [await loopbackNode()];
    const before = (c as unknown as { components: { connectionManager: object } }).components
      .connectionManager as { getConnections: unknown };
    const original = before.getConnections;
    assert.equal(linearConnectionListing(c, "3.4.0"), false);
    assert.equal(before.getConnections, original);
    await c.stop();
  } finally {
    await a.stop();
    await b.stop();
  }
});
