import assert from "node:assert/strict";
import { defaultCrypto } from "@libp2p/noise/crypto";
import { Uint8ArrayList } from "uint8arraylist";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { libp2pLogger } from "./quiet_logger.ts";
import { noise } from "@libp2p/noise";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddrConnectionPair } from "@libp2p/utils";
import { decryptWithoutJoining, relayNoise, relayNoiseCrypto } from "./noise_crypto.ts";

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
