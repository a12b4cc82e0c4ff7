import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { StrictSign } from "@libp2p/gossipsub";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { loadConfig } from "../config/mod.ts";
import { gossipsubOptions } from "../host/gossipsub_pub_sub.ts";
import { federationPubSub } from "./mod.ts";

Deno.test("federationPubSub() runs gossipsub with the federation's options: StrictSign, its topic only, a tiny mesh, no gossip, non-members scored -60", async () => {
  const [self, member, stranger] = await Promise.all(
    [0, 1, 2].map(async () => peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString()),
  );
  const config = (await loadConfig({
    overrides: { federation: { enabled: true, members: [member!], topic: "hopd/t/1" } },
  })).federation;
  const { scoreParams, ...options } = gossipsubOptions(federationPubSub(config, self!));
  const { appSpecificScore, ...score } = scoreParams!;
  assert.deepEqual(options, {
    globalSignaturePolicy: StrictSign,
    allowedTopics: ["hopd/t/1"],
    allowPublishToZeroTopicPeers: true,
    floodPublish: true,
    emitSelf: false,
    fallbackToFloodsub: false,
    doPX: false,
    D: 2,
    Dlo: 1,
    Dhi: 3,
    Dout: 1,
    Dscore: 1,
    Dlazy: 0,
    gossipFactor: 0,
    maxInboundDataLength: 4_096,
  });
  assert.deepEqual(score, { appSpecificWeight: 1, IPColocationFactorWeight: 0 });
  assert.deepEqual(
    [member!, self!, stranger!].map((peer) => appSpecificScore!(peer)),
    [0, 0, -60],
  );
});
