import assert from "node:assert/strict";
import { multiaddr } from "@multiformats/multiaddr";
import { canonicalIp, ipOf, ipToBigInt } from "./ip_text.ts";

Deno.test("ipOf() reads the IP a multiaddr starts with, and nothing else", () => {
  assert.equal(ipOf(multiaddr("/ip4/192.0.2.1/tcp/4001")), "192.0.2.1");
  assert.equal(ipOf(multiaddr("/ip6/2001:db8::1/tcp/4001/ws")), "2001:db8::1");
  assert.equal(ipOf(multiaddr("/dns4/example.com/tcp/443")), undefined);
  assert.equal(ipOf(multiaddr("/memory/abc")), undefined);
});

Deno.test("canonicalIp() spells one address one way", async (t) => {
  const cases: [string, string | undefined][] = [
    ["192.0.2.1", "192.0.2.1"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["fe80::1%eth0", "fe80::1"],
    ["01.2.3.4", undefined],
    ["/memory/x", undefined],
  ];
  for (const [text, expected] of cases) {
    await t.step(text, () => assert.equal(canonicalIp(text), expected));
  }
});

Deno.test("ipToBigInt() reads compressed IPv6, embedded and mapped IPv4, and rejects junk", () => {
  assert.equal(ipToBigInt("::1"), 1n);
  assert.equal(ipToBigInt("::"), 0n);
  assert.equal(ipToBigInt("1.2.3.4"), (0xffffn << 32n) | 0x01020304n);
  assert.equal(ipToBigInt("::ffff:1.2.3.4"), (0xffffn << 32n) | 0x01020304n);
  assert.equal(ipToBigInt("1:2:3:4:5:6:7:8"), 0x0001_0002_0003_0004_0005_0006_0007_0008n);
  for (const bad of ["1:2:3:4:5:6:7", "1::2::3", "1.2.3", "12345::", "1:2:3:4:5:6:7:8:9", ""]) {
    assert.equal(ipToBigInt(bad), undefined, bad);
  }
});
