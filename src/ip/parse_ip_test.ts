import assert from "node:assert/strict";
import { IP_WORDS, parseIp } from "./parse_ip.ts";
import { subnetKey } from "./subnet_key.ts";

Deno.test("parseIp() reads IPv4, IPv6 and IPv4-mapped IPv6", async (t) => {
  const cases: [string, 0 | 4 | 6, number[]][] = [
    ["192.0.2.1", 4, [0xc0000201]],
    ["0.0.0.0", 4, [0]],
    ["255.255.255.255", 4, [0xffffffff]],
    ["::ffff:192.0.2.1", 4, [0xc0000201]],
    ["::FFFF:c000:0201", 4, [0xc0000201]],
    ["2001:db8::1", 6, [0x20010db8, 0, 0, 1]],
    ["::", 6, [0, 0, 0, 0]],
    ["::1", 6, [0, 0, 0, 1]],
    ["fe80::1%eth0", 6, [0xfe800000, 0, 0, 1]],
    ["[2001:db8::]", 6, [0x20010db8, 0, 0, 0]],
    ["1:2:3:4:5:6:7:8", 6, [0x10002, 0x30004, 0x50006, 0x70008]],
    ["1::", 6, [0x10000, 0, 0, 0]],
    ["64:ff9b::192.0.2.33", 6, [0x0064ff9b, 0, 0, 0xc0000221]],
  ];
  for (const [text, family, words] of cases) {
    await t.step(text, () => {
      assert.equal(parseIp(text), family);
      assert.deepEqual([...IP_WORDS.subarray(0, words.length)], words);
    });
  }
});

Deno.test("parseIp() refuses text that is not an IP", async (t) => {
  for (
    const text of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.",
      "a.b.c.d",
      ":::",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7",
      "1:",
      "g::",
      "/memory/x",
      "::1.2.3",
    ]
  ) {
    await t.step(JSON.stringify(text), () => assert.equal(parseIp(text), 0));
  }
});

Deno.test("subnetKey() groups IPv4 by /24 and IPv6 by /48", () => {
  assert.equal(subnetKey("192.0.2.77", 24, 48), "192.0.2.0/24");
  assert.equal(subnetKey("::ffff:192.0.2.77", 24, 48), "192.0.2.0/24");
  assert.equal(subnetKey("2001:db8:abcd:12::1", 24, 48), "2001:db8:abcd::/48");
  assert.equal(subnetKey("2001:db8:abcd:ffff::1", 24, 48), subnetKey("2001:db8:abcd::9", 24, 48));
  assert.notEqual(subnetKey("2001:db8:abce::1", 24, 48), subnetKey("2001:db8:abcd::1", 24, 48));
});

Deno.test("subnetKey() honours other prefixes and passes non-IPs through", () => {
  assert.equal(subnetKey("10.1.2.3", 16, 64), "10.1.0.0/16");
  assert.equal(subnetKey("10.1.2.3", 32, 64), "10.1.2.3/32");
  assert.equal(subnetKey("10.1.2.3", 0, 64), "0.0.0.0/0");
  assert.equal(subnetKey("2001:db8:1:2:3::", 24, 64), "2001:db8:1:2::/64");
  assert.equal(subnetKey("2001:db8:1:2:3::", 24, 52), "2001:db8:1::/52");
  assert.equal(subnetKey("/memory/abc", 24, 48), "/memory/abc");
  assert.throws(() => subnetKey("10.0.0.1", 33, 48), /prefixV4.*33/);
});
