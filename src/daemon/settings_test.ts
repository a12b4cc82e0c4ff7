import assert from "node:assert/strict";
import { loadConfig } from "../config/mod.ts";
import { Settings } from "./settings.ts";

Deno.test("Settings holds what a reload may change, and replace() changes all of it at once", async () => {
  const first = await loadConfig();
  const next = await loadConfig({
    overrides: {
      admin: { allow_remote: true, token_file: "/etc/hopd/token", max_body_size: "1KiB" },
      access: { allowlist_max_circuits_per_peer: 64 },
    },
  });
  const settings = new Settings(first, undefined);
  assert.deepEqual(settings.adminAuth(), {
    token: undefined,
    allowRemote: false,
    maxBodyBytes: 16_384,
  });
  assert.equal(settings.allowlistMaxCircuitsPerPeer, 0);
  settings.replace(next, "0123456789abcdef0123");
  assert.equal(settings.config, next);
  assert.deepEqual(settings.adminAuth(), {
    token: "0123456789abcdef0123",
    allowRemote: true,
    maxBodyBytes: 1_024,
  });
  assert.equal(settings.allowlistMaxCircuitsPerPeer, 64);
});
