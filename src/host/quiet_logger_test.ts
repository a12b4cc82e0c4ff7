import assert from "node:assert/strict";
import { libp2pLogger } from "./quiet_logger.ts";

Deno.test("libp2pLogger() is silent unless DEBUG asks for libp2p's own logs", () => {
  const quiet = libp2pLogger({})!;
  const log = quiet.forComponent("libp2p:test");
  assert.equal(log.enabled, false);
  assert.equal(log.newScope("stream").newScope("x"), log);
  log("nothing %s", "happens");
  log.error("nor here");
  log.trace("nor here");
  assert.equal(libp2pLogger({ DEBUG: "libp2p:*" }), undefined);
  assert.notEqual(libp2pLogger({ DEBUG: "" }), undefined);
});
