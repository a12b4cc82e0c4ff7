import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { ConfigError } from "../errors.ts";
import { createIdentity, IDENTITY_FILE_MODE, loadOrCreateIdentity, readIdentity } from "./mod.ts";

const isPosix = Deno.build.os !== "windows";

/** Runs `fn` with a fresh temp dir, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hopd_identity_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Deterministic bytes that look random (xorshift), so the test never flakes on a lucky decode. */
function noiseBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

Deno.test("createIdentity() writes a 68-byte Ed25519 key with mode 0600", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.key");
    const identity = await createIdentity(path);

    const bytes = await Deno.readFile(path);
    assert.equal(bytes.byteLength, 68);
    assert.deepEqual(bytes, identity.privateKeyProtobuf);
    assert.equal(privateKeyFromProtobuf(identity.privateKeyProtobuf).type, "Ed25519");
    assert.match(identity.peerId, /^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
    assert.equal(identity.path, path);
    assert.equal(identity.created, true);
    assert.equal(identity.looseMode, false);
    if (isPosix) assert.equal((await Deno.stat(path)).mode! & 0o777, IDENTITY_FILE_MODE);
  });
});

Deno.test("createIdentity() creates missing parent directories", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "a", "b", "identity.key");
    const identity = await createIdentity(path);
    assert.equal((await readIdentity(path)).peerId, identity.peerId);
  });
});

Deno.test("createIdentity() makes a different key each time", async () => {
  await withTempDir(async (dir) => {
    const first = await createIdentity(join(dir, "one.key"));
    const second = await createIdentity(join(dir, "two.key"));
    assert.notEqual(first.peerId, second.peerId);
  });
});

Deno.test("createIdentity() refuses to overwrite an existing file and leaves its bytes alone", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("an existing key", async () => {
      const path = join(dir, "identity.key");
      await createIdentity(path);
      const before = await Deno.readFile(path);
      await assert.rejects(createIdentity(path), Deno.errors.AlreadyExists);
      assert.deepEqual(await Deno.readFile(path), before);
    });
    await t.step("any other file", async () => {
      const path = join(dir, "notes.txt");
      await Deno.writeTextFile(path, "do not touch");
      await assert.rejects(createIdentity(path), Deno.errors.AlreadyExists);
      assert.equal(await Deno.readTextFile(path), "do not touch");
    });
  });
});

Deno.test("readIdentity() of a key made by @libp2p/crypto gives that key's peer ID", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "foreign.key");
    const privateKey = await generateKeyPair("Ed25519");
    await Deno.writeFile(path, privateKeyToProtobuf(privateKey), { mode: 0o600 });

    const identity = await readIdentity(path);
    assert.equal(identity.peerId, peerIdFromPrivateKey(privateKey).toString());
    assert.ok(privateKeyFromProtobuf(identity.privateKeyProtobuf).equals(privateKey));
    assert.equal(identity.created, false);
    assert.equal(identity.path, path);
  });
});

Deno.test("readIdentity() of a file that is not a key is a ConfigError naming the file", async (t) => {
  const good = privateKeyToProtobuf(await generateKeyPair("Ed25519"));
  const cases: [string, Uint8Array][] = [
    ["random 68 bytes", noiseBytes(68)],
    ["an empty file", new Uint8Array()],
    ["a truncated key (first 40 bytes)", good.subarray(0, 40)],
    ["a key missing its last byte", good.subarray(0, 67)],
    ["text", new TextEncoder().encode("-----BEGIN PRIVATE KEY-----\n")],
  ];
  await withTempDir(async (dir) => {
    for (const [name, bytes] of cases) {
      await t.step(name, async () => {
        const path = join(dir, "corrupt.key");
        await Deno.writeFile(path, bytes, { mode: 0o600 });
        const error = await readIdentity(path).then(
          () => assert.fail("expected a ConfigError"),
          (error: unknown) => error,
        );
        assert.ok(error instanceof ConfigError, `got ${error}`);
        assert.ok(error.message.includes(path), error.message);
        assert.ok(error.message.includes(`${bytes.byteLength} bytes`), error.message);
        assert.ok(error.cause !== undefined);
      });
    }
  });
});

Deno.test("readIdentity() of a missing file is a ConfigError caused by NotFound", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "missing.key");
    const error = await readIdentity(path).catch((error: unknown) => error);
    assert.ok(error instanceof ConfigError);
    assert.ok(error.cause instanceof Deno.errors.NotFound);
    assert.ok(error.message.includes(path));
  });
});

Deno.test({
  name: "readIdentity() reports looseMode for a key readable by group or others",
  ignore: !isPosix,
  fn: async (t) => {
    const cases: [number, boolean][] = [[0o600, false], [0o400, false], [0o640, true], [
      0o644,
      true,
    ], [0o604, true]];
    await withTempDir(async (dir) => {
      const path = join(dir, "identity.key");
      await createIdentity(path);
      for (const [mode, loose] of cases) {
        await t.step(`mode ${mode.toString(8)} is ${loose ? "loose" : "tight"}`, async () => {
          await Deno.chmod(path, mode);
          assert.equal((await readIdentity(path)).looseMode, loose);
        });
      }
    });
  },
});

Deno.test("loadOrCreateIdentity() creates the key once, then returns the same identity", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "data", "identity.key");
    const first = await loadOrCreateIdentity(path);
    assert.equal(first.created, true);
    const bytes = await Deno.readFile(path);

    const second = await loadOrCreateIdentity(path);
    assert.equal(second.created, false);
    assert.equal(second.peerId, first.peerId);
    assert.deepEqual(second.privateKeyProtobuf, first.privateKeyProtobuf);
    assert.deepEqual(await Deno.readFile(path), bytes);
  });
});

Deno.test("loadOrCreateIdentity() does not replace a corrupt key file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "identity.key");
    const corrupt = noiseBytes(68);
    await Deno.writeFile(path, corrupt);
    await assert.rejects(loadOrCreateIdentity(path), ConfigError);
    assert.deepEqual(await Deno.readFile(path), corrupt);
  });
});

Deno.test("loadOrCreateIdentity() reports a path under a regular file as a ConfigError", async () => {
  await withTempDir(async (dir) => {
    // Works as root too, unlike a read-only directory.
    const file = join(dir, "not-a-dir");
    await Deno.writeTextFile(file, "x");
    const error = await loadOrCreateIdentity(join(file, "identity.key")).catch((e) => e);
    assert.ok(error instanceof ConfigError, `got ${error}`);
    assert.ok(error.message.includes(join(file, "identity.key")), error.message);
    assert.equal(await Deno.readTextFile(file), "x");
  });
});
