import assert from "node:assert/strict";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import { installLeanEvents } from "./lean_events.ts";
import { relayNoise } from "./noise_crypto.ts";
import { probeConnectionPatches } from "./patch_probe.ts";
import { type HostPatch, PatchWarnings } from "./patch_warnings.ts";
import { cappedYamux } from "./yamux_frames.ts";

const MAX_FRAME_BYTES = 65_507;

Deno.test("probeConnectionPatches() finds every per-connection workaround applied by the host's own factories", async () => {
  assert.equal(installLeanEvents(), true);
  const warned: HostPatch[] = [];
  const warnings = new PatchWarnings((patch) => warned.push(patch));
  await probeConnectionPatches({
    encrypter: relayNoise({}, warnings),
    muxer: cappedYamux({ maxMessageSize: MAX_FRAME_BYTES }, warnings),
    maxFrameBytes: MAX_FRAME_BYTES,
  }, warnings);
  assert.deepEqual(warned, []);
});

Deno.test("probeConnectionPatches() fed stock Noise and yamux warns once for the frame cap, the window updates and the Noise decryption they miss", async () => {
  assert.equal(installLeanEvents(), true);
  const warned: HostPatch[] = [];
  const warnings = new PatchWarnings((patch) => warned.push(patch));
  await probeConnectionPatches({
    encrypter: noise(),
    muxer: yamux({ maxMessageSize: MAX_FRAME_BYTES }),
    maxFrameBytes: MAX_FRAME_BYTES,
  }, warnings);
  // Stock noise and yamux share their classes with the host's, which the first test made lean
  // (leanEvents marks a class): only the three patches of their own are missing.
  assert.deepEqual(warned.filter((patch) => patch !== "lean_events"), [
    "noise_decrypt",
    "yamux_frames",
    "yamux_window_updates",
  ]);
});
