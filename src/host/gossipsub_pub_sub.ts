/**
 * hopd's {@linkcode PubSub} on gossipsub: the service the host hands libp2p, built from a
 * {@linkcode PubSubInit}, and the adapter that answers for it. gossipsub's types stay in this
 * file; `createHost()` imports it only when it is given `pubsub`, so a node without
 * `[federation]` never loads gossipsub's code.
 *
 * @module
 */

import {
  type GossipSub,
  gossipsub,
  type GossipSubComponents,
  type GossipsubOpts,
  type Message,
  StrictSign,
  type TopicValidatorFn,
  TopicValidatorResult,
} from "@libp2p/gossipsub";
import type { PubSub, PubSubInit, PubSubValidator, PubSubVerdict } from "./pub_sub.ts";

/** The gossipsub service factory, as libp2p's `services` takes it. */
export type GossipsubService = (components: GossipSubComponents) => GossipSub;

/**
 * gossipsub's options for `init`: its settings, and what every hopd pubsub is. Messages are
 * signed (StrictSign, so a validator always has the sender), subscribers are found from
 * gossipsub's own protocol only (no floodsub fallback), pruned peers are not handed others
 * (no peer exchange: hopd dials the peers it wants), a node does not hear its own messages,
 * and a publish with no subscriber yet succeeds (the next one may find some).
 *
 * @param init The settings.
 * @returns Options for `gossipsub()`.
 */
export function gossipsubOptions(init: PubSubInit): Partial<GossipsubOpts> {
  const { mesh, peerScore } = init;
  return {
    globalSignaturePolicy: StrictSign,
    allowedTopics: [...init.topics],
    allowPublishToZeroTopicPeers: true,
    floodPublish: init.floodPublish,
    emitSelf: false,
    fallbackToFloodsub: false,
    doPX: false,
    D: mesh.degree,
    Dlo: mesh.low,
    Dhi: mesh.high,
    Dout: mesh.outbound,
    Dscore: mesh.byScore,
    Dlazy: mesh.lazy,
    gossipFactor: init.gossipFactor,
    maxInboundDataLength: init.maxMessageBytes,
    scoreParams: {
      appSpecificScore: (peer: string) => peerScore(peer),
      appSpecificWeight: 1,
      IPColocationFactorWeight: init.ipColocationFactorWeight,
    },
  };
}

/**
 * The gossipsub service for `init`, for libp2p's `services`.
 *
 * @param init The settings.
 * @returns The service factory.
 */
export function gossipsubService(init: PubSubInit): GossipsubService {
  return gossipsub(gossipsubOptions(init));
}

const GOSSIPSUB_RESULTS: Readonly<Record<PubSubVerdict, TopicValidatorResult>> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
};

/**
 * A gossipsub topic validator asking `validate` with the signer's peer ID text and the bytes.
 * An unsigned message is rejected without asking: StrictSign drops those before any
 * validator, so this only keeps a changed policy from passing one on.
 *
 * @param validate hopd's validator.
 * @returns gossipsub's validator.
 */
export function gossipsubValidator(validate: PubSubValidator): TopicValidatorFn {
  return (_propagationSource, msg: Message) =>
    msg.type === "signed"
      ? GOSSIPSUB_RESULTS[validate(msg.from.toString(), msg.data)]
      : GOSSIPSUB_RESULTS.reject;
}

/** {@linkcode PubSub} on a running gossipsub service. */
export class GossipsubPubSub implements PubSub {
  readonly #gossipsub: GossipSub;

  /** @param gossipsub The node's gossipsub service. */
  constructor(gossipsub: GossipSub) {
    this.#gossipsub = gossipsub;
  }

  subscribe(topic: string, validate: PubSubValidator): void {
    this.#gossipsub.topicValidators.set(topic, gossipsubValidator(validate));
    this.#gossipsub.subscribe(topic);
  }

  unsubscribe(topic: string): void {
    this.#gossipsub.topicValidators.delete(topic);
    this.#gossipsub.unsubscribe(topic);
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    await this.#gossipsub.publish(topic, data);
  }
}
