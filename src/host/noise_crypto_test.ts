import assert from "node:assert/strict";
import { defaultCrypto } from "@libp2p/noise/crypto";
import { Uint8ArrayList } from "uint8arraylist";
import { relayNoiseCrypto } from "./noise_crypto.ts";

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
