import assert from "node:assert/strict";
import { banScope } from "./ban_scope.ts";

const LIMITS = { prefixMinV4: 16, prefixMinV6: 32 };

Deno.test("banScope() counts the addresses a ban covers and says when it is too wide", async (t) => {
  const cases: [string, { peer?: string; cidr?: string }, number, boolean][] = [
    ["a peer is one", { peer: "12D3KooW" }, 1, false],
    ["a bare IPv4 address is one", { cidr: "203.0.113.7" }, 1, false],
    ["a /24 is 256", { cidr: "203.0.113.0/24" }, 256, false],
    ["a /16 is the widest allowed", { cidr: "10.1.0.0/16" }, 65_536, false],
    ["a /8 is too wide", { cidr: "10.0.0.0/8" }, 2 ** 24, true],
    ["0.0.0.0/0 is every address", { cidr: "0.0.0.0/0" }, 2 ** 32, true],
    ["127.0.0.0/8 is too wide", { cidr: "127.0.0.0/8" }, 2 ** 24, true],
    ["an IPv6 /128 is one", { cidr: "::1/128" }, 1, false],
    ["an IPv6 /64 is one network", { cidr: "2001:db8::/64" }, 1, false],
    ["an IPv6 /48 is 65,536 networks", { cidr: "2001:db8::/48" }, 65_536, false],
    ["an IPv6 /16 is too wide", { cidr: "2001::/16" }, 2 ** 48, true],
    ["an IPv4-mapped /120 is an IPv4 /24", { cidr: "::ffff:203.0.113.0/120" }, 256, false],
  ];
  for (const [name, target, addresses, tooWide] of cases) {
    await t.step(name, () => {
      const scope = banScope(target, LIMITS);
      assert.equal(scope.addresses, addresses);
      assert.equal(scope.tooWide !== undefined, tooWide, scope.tooWide);
    });
  }
  assert.match(banScope({ cidr: "0.0.0.0/0" }, LIMITS).tooWide!, /wider than a \/16 .*v4/);
  assert.throws(() => banScope({ cidr: "nope" }, LIMITS), RangeError);
});
