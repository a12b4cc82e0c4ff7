import assert from "node:assert/strict";
import { CidrSet, parseCidr } from "./cidr_set.ts";

Deno.test("CidrSet.has() matches addresses inside IPv4 and IPv6 blocks", () => {
  const set = new CidrSet(["10.0.0.0/8", "192.0.2.128/25", "2001:db8::/32", "203.0.113.5"]);
  assert.equal(set.has("10.255.1.2"), true);
  assert.equal(set.has("11.0.0.1"), false);
  assert.equal(set.has("192.0.2.200"), true);
  assert.equal(set.has("192.0.2.127"), false);
  assert.equal(set.has("203.0.113.5"), true);
  assert.equal(set.has("203.0.113.6"), false);
  assert.equal(set.has("2001:db8:ffff::1"), true);
  assert.equal(set.has("2001:db9::1"), false);
  assert.equal(set.has("::ffff:10.1.1.1"), true);
  assert.equal(set.has("not an ip"), false);
});

Deno.test("CidrSet handles /0, /32, /128 and odd prefix lengths", () => {
  const set = new CidrSet(["0.0.0.0/0"]);
  assert.equal(set.has("1.2.3.4"), true);
  assert.equal(set.has("::1"), false);
  const v6 = new CidrSet(["::/0"]);
  assert.equal(v6.has("2001:db8::1"), true);
  const odd = new CidrSet(["2001:db8:8000::/33", "::1/128", "172.16.0.0/12"]);
  assert.equal(odd.has("2001:db8:8000::1"), true);
  assert.equal(odd.has("2001:db8:7fff::1"), false);
  assert.equal(odd.has("::1"), true);
  assert.equal(odd.has("::2"), false);
  assert.equal(odd.has("172.31.255.255"), true);
  assert.equal(odd.has("172.32.0.0"), false);
});

Deno.test("CidrSet.match() returns the most specific block; delete() removes one", () => {
  const set = new CidrSet(["10.0.0.0/8", "10.1.0.0/16"]);
  assert.equal(set.match("10.1.2.3"), "10.1.0.0/16");
  assert.equal(set.match("10.2.2.3"), "10.0.0.0/8");
  assert.equal(set.delete("10.1.0.0/16"), true);
  assert.equal(set.delete("10.1.0.0/16"), false);
  assert.equal(set.match("10.1.2.3"), "10.0.0.0/8");
  assert.equal(set.size, 1);
});

Deno.test("parseCidr() canonicalises blocks", () => {
  assert.equal(parseCidr("10.1.2.3/8").text, "10.0.0.0/8");
  assert.equal(parseCidr("192.0.2.1").text, "192.0.2.1/32");
  assert.equal(parseCidr("2001:DB8:0:0::1/32").text, "2001:db8::/32");
  assert.equal(parseCidr("::ffff:10.0.0.0/104").text, "10.0.0.0/8");
  assert.equal(parseCidr("2001:db8::1").text, "2001:db8::1/128");
  assert.equal(parseCidr("1:0:0:2:0:0:0:3/128").text, "1:0:0:2::3/128");
});

Deno.test("parseCidr() throws a RangeError naming the value", async (t) => {
  for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "2001:db8::/129", "x", "1.2.3.4/-1"]) {
    await t.step(bad, () => {
      assert.throws(() => parseCidr(bad), (error: unknown) => {
        assert.ok(error instanceof RangeError);
        assert.match(error.message, new RegExp(`'${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}'`));
        return true;
      });
    });
  }
  assert.throws(() => new CidrSet(["10.0.0.0/8", "bogus/8"]), /'bogus\/8'/);
});
