import assert from "node:assert/strict";
import { defaultCrypto } from "@libp2p/noise/crypto";
import { Uint8ArrayList } from "uint8arraylist";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { libp2pLogger } from "./quiet_logger.ts";
import { noise } from "@libp2p/noise";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddrConnectionPair } from "@libp2p/utils";
import {
  decryptWithoutJoining,
  readLengthsWithoutThrowing,
  relayNoise,
  relayNoiseCrypto,
} from "./noise_crypto.ts";

Deno.test("relayNoiseCrypto encrypts exactly as the default does, for every size and input shape", async (t) => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const ad = crypto.getRandomValues(new Uint8Array(32));
  for (const size of [0, 1, 1199, 1200, 16_384, 65_519]) {
    const plaintext = crypto.getRandomValues(new Uint8Array(size));
    for (const shape of ["array", "list"] as const) {
      await t.step(`${size} bytes as ${shape}`, () => {
        const input = shape === "array"
          ? plaintext
          : new Uint8ArrayList(plaintext.subarray(0, size >> 1), plaintext.subarray(size >> 1));
        // Compare bytes, not classes (Buffer vs Uint8Array).
        const bytes = (data: Uint8Array | Uint8ArrayList) => Uint8Array.from(data.subarray());
        const ours = bytes(relayNoiseCrypto.chaCha20Poly1305Encrypt(input, nonce, ad, key));
        const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
        assert.deepEqual(ours, theirs);
        const opened = bytes(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, key));
        assert.deepEqual(opened, plaintext);
      });
    }
  }
});

Deno.test("decryptWithoutJoining() hands a large multi-buffer message to the cipher unjoined", () => {
  const seen: (Uint8Array | Uint8ArrayList)[] = [];
  let originalCalls = 0;
  const stream = {
    handshake: {
      decrypt(ciphertext: Uint8Array | Uint8ArrayList) {
        seen.push(ciphertext);
        return new Uint8Array(ciphertext.byteLength - 16);
      },
    },
    decrypt(chunk: Uint8Array | Uint8ArrayList) {
      originalCalls++;
      return chunk;
    },
  };
  assert.equal(decryptWithoutJoining(stream), true);
  const message = new Uint8ArrayList(new Uint8Array(40_000), new Uint8Array(25_535));
  assert.equal(stream.decrypt(message).byteLength, 65_535 - 16);
  assert.equal(seen[0], message, "the list itself, not a joined copy");
  // Small, single-buffer and oversized chunks keep noise's own path.
  stream.decrypt(new Uint8ArrayList(new Uint8Array(600), new Uint8Array(600)));
  stream.decrypt(new Uint8Array(65_535));
  stream.decrypt(new Uint8ArrayList(new Uint8Array(65_535), new Uint8Array(1)));
  assert.equal(originalCalls, 3);
  assert.equal(seen.length, 1);
  assert.equal(decryptWithoutJoining({}), false);
});

Deno.test("decryptWithoutJoining() fits noise 17's real secured stream", async () => {
  const privateKeys = [await generateKeyPair("Ed25519"), await generateKeyPair("Ed25519")];
  const components = privateKeys.map((privateKey) => ({
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    logger: libp2pLogger({}),
    upgrader: { getStreamMuxers: () => new Map() },
  }));
  const [inbound, outbound] = components.map((c) =>
    relayNoise()(c as unknown as Parameters<ReturnType<typeof relayNoise>>[0])
  );
  const plain = noise()(components[0] as unknown as Parameters<ReturnType<typeof noise>>[0]);
  const [a, b] = multiaddrConnectionPair();
  const [server, client] = await Promise.all([
    plain.secureInbound(a!),
    outbound!.secureOutbound(b!, { remotePeer: components[0]!.peerId }),
  ]);
  assert.equal(decryptWithoutJoining(server.connection), true);
  assert.equal(typeof inbound!.secureInbound, "function");
  // Both sides still talk: 200 KiB in several Noise messages, decrypted by the patched side.
  const payload = new Uint8Array(200 * 1024).map((_, i) => (i * 7919) >> 3);
  const received = new Uint8ArrayList();
  const done = new Promise<void>((resolve) => {
    client.connection.addEventListener("message", (event) => {
      received.append(event.data);
      if (received.byteLength === payload.byteLength) resolve();
    });
  });
  server.connection.send(payload);
  await done;
  assert.deepEqual(received.subarray(), payload);
  await Promise.all([server.connection.close(), client.connection.close()]);
});

/** A real noise 17 connection pair (plain noise on both sides), for the reader's tests. */
async function securedPair() {
  const privateKeys = [await generateKeyPair("Ed25519"), await generateKeyPair("Ed25519")];
  const components = privateKeys.map((privateKey) => ({
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    logger: libp2pLogger({}),
    upgrader: { getStreamMuxers: () => new Map() },
  }));
  const [inbound, outbound] = components.map((c) =>
    noise()(c as unknown as Parameters<ReturnType<typeof noise>>[0])
  );
  const [a, b] = multiaddrConnectionPair();
  const [server, client] = await Promise.all([
    inbound!.secureInbound(a!),
    outbound!.secureOutbound(b!, { remotePeer: components[0]!.peerId }),
  ]);
  return { server: server.connection, client: client.connection };
}

/** Counts the length reads of a secured stream's decoder that throw (fewer than 2 bytes). */
function countThrowingReads(stream: unknown): { throws: number } {
  const decoder = (stream as { decoder: { lengthDecoder(d: Uint8ArrayList): number } }).decoder;
  const original = decoder.lengthDecoder;
  const count = { throws: 0 };
  decoder.lengthDecoder = (data) => {
    try {
      return original(data);
    } catch (error) {
      count.throws++;
      throw error;
    }
  };
  return count;
}

/** Sends 300 messages of 1..300 bytes client → server; returns what the server received. */
async function sendMessages(
  server: Awaited<ReturnType<typeof securedPair>>["server"],
  client: Awaited<ReturnType<typeof securedPair>>["client"],
) {
  const sent = new Uint8ArrayList();
  const received = new Uint8ArrayList();
  for (let n = 1; n <= 300; n++) sent.append(new Uint8Array(n).fill(n & 0xff));
  const done = new Promise<void>((resolve) => {
    server.addEventListener("message", (event) => {
      received.append(event.data);
      if (received.byteLength === sent.byteLength) resolve();
    });
  });
  for (const chunk of sent) {
    client.send(chunk);
    if (chunk.byteLength % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await done;
  return { sent: sent.subarray(), received: received.subarray() };
}

Deno.test("readLengthsWithoutThrowing(): noise reads its lengths without a thrown RangeError per read", async (t) => {
  await t.step("stock noise throws at the end of reads (control)", async () => {
    const { server, client } = await securedPair();
    const count = countThrowingReads(server);
    const { sent, received } = await sendMessages(server, client);
    assert.deepEqual(received, sent);
    assert.ok(count.throws > 0, `${count.throws} throwing reads`);
    await Promise.all([server.close(), client.close()]);
  });
  await t.step("patched: every message arrives, no read throws", async () => {
    const { server, client } = await securedPair();
    const count = countThrowingReads(server);
    assert.equal(readLengthsWithoutThrowing(server), true);
    const { sent, received } = await sendMessages(server, client);
    assert.deepEqual(received, sent);
    assert.equal(count.throws, 0);
    await Promise.all([server.close(), client.close()]);
  });
  await t.step("a length split across reads, one byte at a time", () => {
    const lengths: number[] = [];
    const decoder = { lengthDecoder: (d: Uint8Array | Uint8ArrayList) => d.subarray()[0]! << 8 };
    assert.equal(readLengthsWithoutThrowing({ decoder }), true);
    lengths.push(
      decoder.lengthDecoder(new Uint8Array(0)),
      decoder.lengthDecoder(new Uint8Array([1])),
    );
    lengths.push(decoder.lengthDecoder(new Uint8Array([1, 0])));
    assert.deepEqual(lengths, [0, 0, 256]);
    assert.equal(readLengthsWithoutThrowing({}), false);
  });
});
