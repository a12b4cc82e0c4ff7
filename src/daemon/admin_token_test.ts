import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultConfig } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import { readAdminToken, readAdminTokenFor } from "./admin_token.ts";

Deno.test("readAdminToken() reads the first line, trimmed, and says when others can read the file", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-token-test-" });
  try {
    const path = join(dir, "token");
    await t.step("a private file", async () => {
      await Deno.writeTextFile(path, "  0123456789abcdef0123  \nsecond line\n", { mode: 0o600 });
      await Deno.chmod(path, 0o600);
      assert.deepEqual(await readAdminToken(path), {
        token: "0123456789abcdef0123",
        looseMode: false,
      });
    });
    await t.step("a file others can read", async () => {
      await Deno.chmod(path, 0o644);
      assert.equal((await readAdminToken(path)).looseMode, true);
    });
    await t.step("a token under 16 characters", async () => {
      await Deno.writeTextFile(path, "short\n");
      await assert.rejects(readAdminToken(path), (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /at least 16 characters/);
        return true;
      });
    });
    await t.step("a missing file, named in the error", async () => {
      await assert.rejects(readAdminToken(join(dir, "missing")), (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /Cannot load admin token '.*missing'/);
        return true;
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readAdminTokenFor() reads admin.token_file, and nothing when it is not set", async () => {
  assert.equal(await readAdminTokenFor(defaultConfig()), undefined);
  const dir = await Deno.makeTempDir({ prefix: "hopd-token-test-" });
  try {
    const tokenFile = join(dir, "token");
    await Deno.writeTextFile(tokenFile, "fedcba9876543210fedc\n", { mode: 0o600 });
    const config = { admin: { ...defaultConfig().admin, tokenFile } };
    assert.equal(await readAdminTokenFor(config), "fedcba9876543210fedc");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
