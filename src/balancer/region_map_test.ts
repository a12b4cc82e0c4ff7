import assert from "node:assert/strict";
import { RegionMap } from "./region_map.ts";

Deno.test("RegionMap.lookup() picks the longest matching prefix, for IPv4 and IPv6", () => {
  const map = new RegionMap([
    { cidr: "0.0.0.0/0", region: "world-v4" },
    { cidr: "10.0.0.0/8", region: "private" },
    { cidr: "10.1.0.0/16", region: "lab" },
    { cidr: "2001:db8::/32", region: "doc" },
    { cidr: "2001:db8:1::/48", region: "doc-1" },
    { cidr: "192.0.2.7", region: "one-host" },
  ]);
  assert.equal(map.size, 6);
  assert.equal(map.lookup("10.1.2.3"), "lab");
  assert.equal(map.lookup("10.2.2.3"), "private");
  assert.equal(map.lookup("8.8.8.8"), "world-v4");
  assert.equal(map.lookup("192.0.2.7"), "one-host");
  assert.equal(map.lookup("::ffff:10.1.0.1"), "lab");
  assert.equal(map.lookup("2001:db8:1::5"), "doc-1");
  assert.equal(map.lookup("2001:db8:2::5"), "doc");
  assert.equal(map.lookup("fe80::1%eth0"), undefined);
  assert.equal(map.lookup("not-an-ip"), undefined);
  assert.equal(new RegionMap([]).lookup("10.0.0.1"), undefined);
});

Deno.test("RegionMap refuses a bad CIDR, naming it", async (t) => {
  for (const cidr of ["10.0.0.0/33", "300.0.0.1/8", "2001:db8::/129", "abc/8", "10.0.0.0/x"]) {
    await t.step(cidr, () => {
      assert.throws(() => new RegionMap([{ cidr, region: "r" }]), (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.ok(error.message.includes(cidr), error.message);
        return true;
      });
    });
  }
});
