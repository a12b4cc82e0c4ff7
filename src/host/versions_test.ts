import assert from "node:assert/strict";
import { libp2pChecked, PATCHED_PACKAGES } from "./versions.ts";

Deno.test("deno.json pins every package src/host/ patches at the version its workarounds were checked against", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const imports = config.imports as Record<string, string>;
  for (const [name, { version, workarounds }] of Object.entries(PATCHED_PACKAGES)) {
    assert.equal(
      imports[name],
      `npm:${name}@${version}`,
      `${name} changed: re-check src/host/${workarounds.join(", ")} against it, then versions.ts`,
    );
  }
});

Deno.test("libp2pChecked() holds for the running js-libp2p only", () => {
  assert.equal(libp2pChecked(), true, "js-libp2p changed: re-check versions.ts");
  assert.equal(libp2pChecked("3.4.0"), false);
});
