import assert from "node:assert/strict";
import type { Connection } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { lpStream, streamPair } from "@libp2p/utils";
import { multiaddr } from "@multiformats/multiaddr";
import type { SelectRequest } from "./mod.ts";
import { handleSelectStream, type SelectProtocolComponents } from "./select_protocol.ts";

const CLIENT = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
const connection = {
  remoteAddr: multiaddr(`/ip4/198.51.100.7/tcp/4001/p2p/${CLIENT}`),
  remotePeer: peerIdFromString(CLIENT),
} as unknown as Connection;

async function ask(request: Uint8Array, components: Partial<SelectProtocolComponents> = {}) {
  const [client, server] = await streamPair();
  const requests: SelectRequest[] = [];
  const errors: string[] = [];
  const served = handleSelectStream(server, connection, {
    select: (r) => {
      requests.push(r);
      return Promise.resolve({
        algorithm: "capacity",
        relays: [{ peerId: "relay-a", addrs: ["/ip4/192.0.2.1/tcp/4001/p2p/relay-a"], score: 0.9 }],
      });
    },
    onError: (reason) => errors.push(reason),
    ...components,
  });
  const lp = lpStream(client, { maxDataLength: 1 << 20 });
  await lp.write(request);
  let answer: unknown;
  try {
    answer = JSON.parse(new TextDecoder().decode((await lp.read()).subarray()));
  } catch (error) {
    answer = error;
  }
  await served;
  return { answer, requests, errors };
}

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("/hopd/select/1.0.0 answers a request with the selection, defaulting peer to the caller", async () => {
  const { answer, requests } = await ask(json({ n: 2, lat: 48.85, lon: 2.35 }));
  assert.deepEqual(answer, {
    algorithm: "capacity",
    relays: [{ peerId: "relay-a", addrs: ["/ip4/192.0.2.1/tcp/4001/p2p/relay-a"], score: 0.9 }],
  });
  assert.deepEqual(requests, [{ n: 2, lat: 48.85, lon: 2.35, peer: CLIENT, ip: "198.51.100.7" }]);
});

Deno.test("/hopd/select/1.0.0 answers bad requests with an error object", async (t) => {
  const cases: Array<[string, Uint8Array, string]> = [
    ["not JSON", new TextEncoder().encode("{nope"), "BAD_REQUEST"],
    ["not UTF-8", new Uint8Array([0xff, 0xfe]), "BAD_REQUEST"],
    ["an array", json([1, 2]), "BAD_REQUEST"],
    ["a bad field", json({ n: 99 }), "BAD_REQUEST"],
  ];
  for (const [name, request, code] of cases) {
    await t.step(name, async () => {
      const { answer, requests } = await ask(request);
      assert.equal((answer as { error: { code: string } }).error.code, code);
      assert.equal(requests.length, 0);
    });
  }
});

Deno.test("/hopd/select/1.0.0 refuses callers over the rate limit", async () => {
  const { answer, requests } = await ask(json({}), { admit: () => false });
  assert.equal((answer as { error: { code: string } }).error.code, "RATE_LIMITED");
  assert.equal(requests.length, 0);
});

Deno.test("/hopd/select/1.0.0 resets a stream whose request is too large, and counts it", async () => {
  const { answer, errors } = await ask(new Uint8Array(4_096));
  assert.ok(answer instanceof Error);
  assert.equal(errors.length, 1);
});
