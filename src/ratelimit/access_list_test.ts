import assert from "node:assert/strict";
import { AccessList } from "./access_list.ts";

const lists = {
  denyPeers: ["12D3KooWBad"],
  denyCidrs: ["203.0.113.0/24", "2001:db8:bad::/48"],
  allowPeers: ["12D3KooWMine"],
  allowCidrs: ["10.0.0.0/8"],
};

Deno.test("AccessList.isDenied() matches deny peers and deny CIDRs", () => {
  const access = new AccessList(lists);
  assert.equal(access.isDenied("12D3KooWBad"), true);
  assert.equal(access.isDenied("12D3KooWOther"), false);
  assert.equal(access.isDenied(undefined, "203.0.113.200"), true);
  assert.equal(access.isDenied(undefined, "2001:db8:bad:1::1"), true);
  assert.equal(access.isDenied("12D3KooWOther", "198.51.100.1"), false);
  assert.equal(access.isDenied("12D3KooWOther", "203.0.113.1"), true);
  assert.equal(access.isDenied(), false);
});

Deno.test("AccessList.isAllowlisted() matches allow peers and allow CIDRs", () => {
  const access = new AccessList(lists);
  assert.equal(access.isAllowlisted("12D3KooWMine"), true);
  assert.equal(access.isAllowlisted(undefined, "10.9.9.9"), true);
  assert.equal(access.isAllowlisted("12D3KooWBad", "198.51.100.1"), false);
  assert.equal(access.empty, false);
  assert.equal(
    new AccessList({ denyPeers: [], denyCidrs: [], allowPeers: [], allowCidrs: [] }).empty,
    true,
  );
});

Deno.test("AccessList throws a RangeError naming the list, index and value", () => {
  assert.throws(
    () => new AccessList({ ...lists, allowCidrs: ["10.0.0.0/8", "10.0.0.0/99"] }),
    (error: unknown) =>
      error instanceof RangeError && error.message.includes("access.allowCidrs[1]") &&
      error.message.includes("10.0.0.0/99"),
  );
});
