import assert from "node:assert/strict";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { type GossipSub, type Message, TopicValidatorResult } from "@libp2p/gossipsub";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { gossipsubValidator } from "./gossipsub_pub_sub.ts";
import type { Host, PubSubVerdict } from "./mod.ts";
import { loopbackHost, testPubSubInit } from "./testing.ts";

Deno.test("gossipsubValidator() asks with the signer's peer ID text and the bytes, and answers gossipsub's result", async (t) => {
  const signer = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
  const forwarder = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
  const data = new TextEncoder().encode("a report");
  const signed = { type: "signed", from: signer, topic: "t", data } as unknown as Message;
  for (
    const [verdict, result] of [
      ["accept", TopicValidatorResult.Accept],
      ["ignore", TopicValidatorResult.Ignore],
      ["reject", TopicValidatorResult.Reject],
    ] as const
  ) {
    await t.step(`"${verdict}" is ${result}`, () => {
      const asked: [string, Uint8Array][] = [];
      const validate = gossipsubValidator((from, bytes) => {
        asked.push([from, bytes]);
        return verdict;
      });
      assert.equal(validate(forwarder, signed), result);
      assert.deepEqual(asked, [[signer.toString(), data]]);
    });
  }
  await t.step("an unsigned message is rejected without asking", () => {
    let asked = 0;
    const validate = gossipsubValidator(() => (asked++, "accept"));
    const unsigned = { type: "unsigned", topic: "t", data } as unknown as Message;
    assert.equal(validate(forwarder, unsigned), TopicValidatorResult.Reject);
    assert.equal(asked, 0);
  });
});

/** The gossipsub service behind a host's `PubSub`. */
function gossipsubOf(host: Host): GossipSub {
  return (host.libp2p as Libp2p<{ pubsub: GossipSub }>).services.pubsub;
}

/** Resolves when `host`'s gossipsub knows `peer` subscribes to `topic`. */
function subscribed(host: Host, peer: PeerId, topic: string): Promise<void> {
  const gossipsub = gossipsubOf(host);
  const known = () => gossipsub.getSubscribers(topic).some((p) => p.equals(peer));
  return new Promise((resolve) => {
    if (known()) return resolve();
    const onChange = () => {
      if (!known()) return;
      gossipsub.removeEventListener("subscription-change", onChange);
      resolve();
    };
    gossipsub.addEventListener("subscription-change", onChange);
  });
}

Deno.test("Host.pubsub carries messages between two hosts on loopback: the validator sees each first, and only accepted ones are delivered", async () => {
  const topic = "hopd-pubsub-test";
  const hosts: Host[] = [];
  for (let i = 0; i < 2; i++) {
    hosts.push(
      await loopbackHost({
        pubsub: testPubSubInit([topic]),
        // gossipsub learns a peer's protocols from identify, both ways here.
        identifyInbound: () => true,
      }),
    );
  }
  const [receiver, sender] = hosts as [Host, Host];
  try {
    const asked: string[] = [];
    const validated = Promise.withResolvers<void>();
    receiver.pubsub!.subscribe(topic, (from, data) => {
      const text = new TextDecoder().decode(data);
      asked.push(`${from === sender.libp2p.peerId.toString() ? "sender" : from}: ${text}`);
      if (asked.length === 4) validated.resolve();
      return text.split("-")[0] as PubSubVerdict;
    });
    sender.pubsub!.subscribe(topic, () => "accept");
    const delivered: string[] = [];
    gossipsubOf(receiver).addEventListener("message", ({ detail }) => {
      delivered.push(new TextDecoder().decode(detail.data));
    });
    const bothSubscribed = Promise.all([
      subscribed(receiver, sender.libp2p.peerId, topic),
      subscribed(sender, receiver.libp2p.peerId, topic),
    ]);
    await sender.libp2p.dial(receiver.libp2p.getMultiaddrs()[0]!);
    await bothSubscribed;
    for (const text of ["accept-1", "ignore-1", "reject-1", "accept-2"]) {
      await sender.pubsub!.publish(topic, new TextEncoder().encode(text));
    }
    await validated.promise;
    // gossipsub emits an accepted message right after its validator answers.
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(asked.toSorted(), [
      "sender: accept-1",
      "sender: accept-2",
      "sender: ignore-1",
      "sender: reject-1",
    ]);
    assert.deepEqual(delivered.toSorted(), ["accept-1", "accept-2"]);
    receiver.pubsub!.unsubscribe(topic);
    assert.equal(gossipsubOf(receiver).topicValidators.has(topic), false);
    assert.deepEqual(gossipsubOf(receiver).getTopics(), []);
  } finally {
    for (const host of hosts) await host.stop();
  }
});

Deno.test("Host.pubsub publishes with no subscriber yet", async () => {
  const host = await loopbackHost({ pubsub: testPubSubInit(["hopd-allowed"]) });
  try {
    host.pubsub!.subscribe("hopd-allowed", () => "accept");
    // gossipsub alone throws PublishError.NoPeersSubscribedToTopic here.
    await host.pubsub!.publish("hopd-allowed", new Uint8Array([1]));
    assert.deepEqual(gossipsubOf(host).getTopics(), ["hopd-allowed"]);
  } finally {
    await host.stop();
  }
});
