import assert from "node:assert/strict";
import { ManualClock } from "../clock/mod.ts";
import { RefusalLogger } from "./refusal_logger.ts";

Deno.test("RefusalLogger logs alternatives for capacity and drain refusals, at most once per interval", () => {
  const clock = new ManualClock(0);
  const asked: string[] = [];
  const logger = new RefusalLogger({
    alternatives: (peer) => {
      asked.push(peer);
      return [{ peerId: "relay-b", addrs: ["/ip4/192.0.2.2/tcp/4001/p2p/relay-b"], score: 1 }];
    },
    intervalMs: 1_000,
    clock,
  });
  assert.equal(logger.refused("peer-1", "total_limit"), true);
  assert.equal(logger.refused("peer-2", "draining"), false, "within the interval: folded");
  assert.equal(logger.refused("peer-3", "ip_limit"), false, "another relay would not help");
  clock.advance(1_000);
  assert.equal(logger.refused("peer-4", "draining"), true);
  assert.deepEqual(asked, ["peer-1", "peer-4"]);
});
