/**
 * The host's pubsub as hopd sees it: {@linkcode PubSub} (subscribe with a validator, unsubscribe,
 * publish) and the gossipsub settings it runs with, {@linkcode PubSubInit}. gossipsub's own
 * types stay in gossipsub_pub_sub.ts, which maps these onto them.
 *
 * @module
 */

/**
 * What a topic validator answers: "accept" delivers the message and forwards it, "ignore"
 * drops it, "reject" drops it as invalid, which gossipsub's peer scoring may count against the
 * peer that forwarded it (gossipsub's `TopicValidatorResult`).
 */
export type PubSubVerdict = "accept" | "ignore" | "reject";

/**
 * Judges one message on a topic before it is delivered or forwarded.
 *
 * @param from The peer ID text of the peer that signed the message (its publisher).
 * @param data The message bytes.
 * @returns Whether to accept, ignore or reject it.
 */
export type PubSubValidator = (from: string, data: Uint8Array) => PubSubVerdict;

/**
 * The host's pubsub: gossipsub as hopd uses it. Every message is signed by its publisher, and
 * every subscribed topic has a validator, which sees each message first.
 */
export interface PubSub {
  /**
   * Subscribes to `topic`; every message on it is first put to `validate`.
   *
   * @param topic The topic.
   * @param validate Judges each message on the topic.
   */
  subscribe(topic: string, validate: PubSubValidator): void;
  /**
   * Drops `topic`'s validator, then the subscription.
   *
   * @param topic The topic.
   * @throws {Error} When gossipsub has already stopped.
   */
  unsubscribe(topic: string): void;
  /**
   * Signs and sends `data` on `topic`. It succeeds with no subscriber yet.
   *
   * @param topic The topic (one of {@linkcode PubSubInit.topics}).
   * @param data The message bytes.
   * @throws {Error} When gossipsub refuses it (not started, the same bytes published twice).
   */
  publish(topic: string, data: Uint8Array): Promise<void>;
}

/**
 * The gossipsub settings of `HostInit.pubsub`, all given by its user (they have no
 * defaults here). What every hopd pubsub is besides: messages signed (StrictSign), no floodsub
 * fallback, no peer exchange, no delivery of a node's own messages, and publishing with no
 * subscriber yet allowed.
 */
export interface PubSubInit {
  /** The only topics messages are accepted on (gossipsub's `allowedTopics`). */
  readonly topics: readonly string[];
  /** Largest message accepted, in bytes (`maxInboundDataLength`). */
  readonly maxMessageBytes: number;
  /** Sends each published message to every subscribed peer, not only the mesh (`floodPublish`). */
  readonly floodPublish: boolean;
  /**
   * Mesh peers per topic: the target, the low and high bounds that trigger grafting and
   * pruning, the outbound minimum, how many are kept by score when pruning, and the peers sent
   * gossip (IHAVE) each heartbeat (`D`, `Dlo`, `Dhi`, `Dout`, `Dscore`, `Dlazy`).
   */
  readonly mesh: {
    readonly degree: number;
    readonly low: number;
    readonly high: number;
    readonly outbound: number;
    readonly byScore: number;
    readonly lazy: number;
  };
  /** Share of the non-mesh peers sent gossip each heartbeat (`gossipFactor`). */
  readonly gossipFactor: number;
  /**
   * A peer's application score by its peer ID text, added to its gossipsub score as is
   * (`scoreParams.appSpecificScore`, weight 1). Below -50 a peer is sent nothing (the publish
   * threshold), below -80 what it sends is dropped unread (the graylist threshold).
   */
  readonly peerScore: (peer: string) => number;
  /**
   * Weight of the penalty for peers sharing an IP (`scoreParams.IPColocationFactorWeight`,
   * ≤ 0; 0 = none).
   */
  readonly ipColocationFactorWeight: number;
}
