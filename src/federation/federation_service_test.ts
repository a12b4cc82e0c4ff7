import assert from "node:assert/strict";
import { StrictSign, TopicValidatorResult } from "@libp2p/gossipsub";
import { GOSSIPSUB_VALUES } from "./federation_service.ts";

Deno.test("the federation's written-out gossipsub values are gossipsub's own", () => {
  assert.deepEqual(GOSSIPSUB_VALUES, {
    strictSign: StrictSign,
    accept: TopicValidatorResult.Accept,
    ignore: TopicValidatorResult.Ignore,
    reject: TopicValidatorResult.Reject,
  });
});
