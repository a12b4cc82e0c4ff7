import assert from "node:assert/strict";
import { Http01Responder } from "./http01_responder.ts";

Deno.test("Http01Responder answers a set token's key authorization and 404s everything else", async (t) => {
  const responder = new Http01Responder();
  responder.set("tok-1", "tok-1.thumbprint");
  const get = (path: string, method = "GET") =>
    responder.handle(new Request(`http://relay.example.com${path}`, { method }));
  await t.step("the token it holds", async () => {
    const response = get("/.well-known/acme-challenge/tok-1");
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "tok-1.thumbprint");
  });
  const misses: [string, string, string][] = [
    ["an unknown token", "/.well-known/acme-challenge/tok-2", "GET"],
    ["another path", "/tok-1", "GET"],
    ["a POST", "/.well-known/acme-challenge/tok-1", "POST"],
  ];
  for (const [name, path, method] of misses) {
    await t.step(name, async () => {
      const response = get(path, method);
      assert.equal(response.status, 404);
      await response.body?.cancel();
    });
  }
  await t.step("a deleted token", async () => {
    responder.delete("tok-1");
    const response = get("/.well-known/acme-challenge/tok-1");
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });
});

Deno.test("Http01Responder binds its address and serves over real HTTP", async () => {
  const responder = new Http01Responder();
  const port = responder.start({ hostname: "127.0.0.1", port: 0 });
  try {
    responder.set("abc", "abc.xyz");
    const response = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/abc`);
    assert.equal(await response.text(), "abc.xyz");
  } finally {
    await responder.stop();
  }
});
