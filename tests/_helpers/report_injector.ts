// Injects federation load reports into a running hopd the way any gossipsub peer could: a
// stock js-libp2p node opens /meshsub/1.1.0 to it and writes RPCs whose messages are signed
// (StrictSign, exactly as gossipsub signs) by whatever key the test holds: allowlisted
// "fake relays" with chosen loads, a non-member, or a replay of an older message.

import { generateKeyPair, publicKeyToProtobuf } from "@libp2p/crypto/keys";
import { RPC } from "@libp2p/gossipsub/message";
import { identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { noise } from "@libp2p/noise";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { type LengthPrefixedStream, lpStream } from "@libp2p/utils";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { DEFAULT_FEDERATION_TOPIC } from "../../src/federation/constants.ts";
import { encodeLoadReport, type LoadReport } from "../../src/federation/pb/load_report.ts";
import { idleLoadReport } from "../../src/federation/testing.ts";

const SIGN_PREFIX = new TextEncoder().encode("libp2p-pubsub:");
let gossipSeqno = BigInt(Date.now()) * 1_000_000n;

/** An identity that signs reports. */
export interface Signer {
  readonly privateKey: PrivateKey;
  readonly peerId: string;
}

/** A fresh Ed25519 signer. */
export async function newSigner(): Promise<Signer> {
  const privateKey = await generateKeyPair("Ed25519");
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString() };
}

/** A report with sane defaults: alive, healthy, idle, capacity 100/100, sent now. */
export function report(init: Partial<LoadReport> = {}): LoadReport {
  return idleLoadReport({
    sentAtMs: Date.now(),
    intervalMs: 200,
    addrs: [multiaddr("/ip4/127.0.0.1/tcp/1").bytes],
    capacity: { maxReservations: 100, maxCircuits: 100, bandwidthBytesPerSecond: 0 },
    ...init,
  });
}

/**
 * Builds a gossipsub message of `data` signed by `signer`, as gossipsub's StrictSign does.
 *
 * @param signer Who signs (the message's `from`).
 * @param data The payload (an encoded report, or anything).
 * @param topic The topic.
 * @returns The RPC message.
 */
export async function signedMessage(
  signer: Signer,
  data: Uint8Array,
  topic = DEFAULT_FEDERATION_TOPIC,
): Promise<RPC.Message> {
  const seqno = new Uint8Array(8);
  new DataView(seqno.buffer).setBigUint64(0, ++gossipSeqno, false);
  const unsigned: RPC.Message = {
    from: peerIdFromPrivateKey(signer.privateKey).toMultihash().bytes,
    data,
    seqno,
    topic,
  };
  const toSign = RPC.Message.encode(unsigned);
  const bytes = new Uint8Array(SIGN_PREFIX.length + toSign.length);
  bytes.set(SIGN_PREFIX);
  bytes.set(toSign, SIGN_PREFIX.length);
  return {
    ...unsigned,
    signature: await signer.privateKey.sign(bytes),
    key: publicKeyToProtobuf(signer.privateKey.publicKey),
  };
}

/** A report signed by `signer`. */
export function signedReport(signer: Signer, init: Partial<LoadReport>): Promise<RPC.Message> {
  return signedMessage(signer, encodeLoadReport(report(init)));
}

/** A raw gossipsub sender connected to one hopd. */
export interface ReportInjector {
  /** Sends messages in one RPC. */
  send(...messages: RPC.Message[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Connects to hopd at `addr` and opens a gossipsub stream to it.
 *
 * @param addr hopd's TCP multiaddr with /p2p/.
 * @returns The injector.
 */
export async function connectInjector(addr: string): Promise<ReportInjector> {
  const node: Libp2p = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() },
    connectionGater: { denyDialMultiaddr: () => false },
  });
  const stream = await node.dialProtocol(multiaddr(addr), "/meshsub/1.1.0");
  const lp: LengthPrefixedStream = lpStream(stream);
  return {
    async send(...messages) {
      await lp.write(RPC.encode({ subscriptions: [], messages }));
    },
    async stop() {
      await node.stop();
    },
  };
}

/**
 * Keeps fake members alive: sends each one's report every `intervalMs` with a growing seq.
 *
 * @returns A function that stops the loop.
 */
export function keepReporting(
  injector: ReportInjector,
  members: readonly { signer: Signer; report: Partial<LoadReport> }[],
  intervalMs: number,
): () => Promise<void> {
  let seq = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      seq++;
      const messages = await Promise.all(
        members.map((m) => signedReport(m.signer, { ...m.report, seq, sentAtMs: Date.now() })),
      );
      await injector.send(...messages).catch(() => {});
      // Pacing: a member reports every interval, as hopd's federation does; not a wait.
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}
