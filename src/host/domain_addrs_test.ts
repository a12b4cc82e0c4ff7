import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { withDomainAddrs } from "./domain_addrs.ts";

const ID = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq";

Deno.test("withDomainAddrs() adds a /dns4/…/tls/ws twin per domain for TLS WebSocket addresses only", () => {
  const addrs = [
    `/ip4/127.0.0.1/tcp/4001/p2p/${ID}`,
    `/ip4/127.0.0.1/tcp/4002/ws/p2p/${ID}`,
    `/ip4/127.0.0.1/tcp/4443/tls/ws/p2p/${ID}`,
    `/ip6/::1/tcp/4443/tls/ws/p2p/${ID}`,
    `/ip4/192.0.2.7/tcp/443/wss/p2p/${ID}`,
  ].map((a) => multiaddr(a));
  const out = withDomainAddrs(addrs, ["a.example", "b.example"]).map(String);
  assert.deepEqual(out.slice(0, addrs.length), addrs.map(String));
  assert.deepEqual(out.slice(addrs.length), [
    `/dns4/a.example/tcp/4443/tls/ws/p2p/${ID}`,
    `/dns4/b.example/tcp/4443/tls/ws/p2p/${ID}`,
    `/dns4/a.example/tcp/443/tls/ws/p2p/${ID}`,
    `/dns4/b.example/tcp/443/tls/ws/p2p/${ID}`,
  ]);
});

Deno.test("withDomainAddrs() adds nothing twice and leaves SNI addresses alone", () => {
  const addrs = [
    `/ip4/127.0.0.1/tcp/4443/tls/ws/p2p/${ID}`,
    `/dns4/a.example/tcp/4443/tls/ws/p2p/${ID}`,
    `/ip4/127.0.0.1/tcp/5443/tls/sni/a.example/ws/p2p/${ID}`,
  ].map((a) => multiaddr(a));
  assert.deepEqual(withDomainAddrs(addrs, ["a.example"]).map(String), addrs.map(String));
});
