import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { loadConfig } from "./mod.ts";

const A = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
const B = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";

function fromToml(text: string) {
  return loadConfig({ file: "hopd.toml", readTextFile: () => Promise.resolve(text) });
}

Deno.test("[federation] is off by default, with documented defaults", async () => {
  const { federation } = await loadConfig();
  assert.deepEqual(federation, {
    enabled: false,
    members: [],
    bootstrap: [],
    topic: "hopd/federation/1",
    intervalMs: 1_000,
    suspectAfterMs: 2_000,
    deadAfterMs: 2_500,
    weight: 1,
    bandwidthBytesPerSecond: 0,
    algorithm: "capacity",
    cidrRegions: [],
  });
});

Deno.test("[federation] resolves intervals, coordinates, bandwidth and the CIDR map", async () => {
  const { federation } = await fromToml(`
[federation]
enabled = true
members = ["${A}", "${B}"]
bootstrap = ["/ip4/192.0.2.1/tcp/4001/p2p/${B}"]
interval = "500ms"
suspect_after = 3
dead_after = 4.5
region = "eu-west"
coordinates = "50.11, 8.68"
weight = 2.5
capacity_bandwidth = "125MB"
algorithm = "geo"
cidr_regions = ["203.0.113.0/24=eu-west", "2001:db8::/32=us-east"]
`);
  assert.deepEqual(federation, {
    enabled: true,
    members: [A, B],
    bootstrap: [`/ip4/192.0.2.1/tcp/4001/p2p/${B}`],
    topic: "hopd/federation/1",
    intervalMs: 500,
    suspectAfterMs: 1_500,
    deadAfterMs: 2_250,
    region: "eu-west",
    lat: 50.11,
    lon: 8.68,
    weight: 2.5,
    bandwidthBytesPerSecond: 125_000_000,
    algorithm: "geo",
    cidrRegions: [
      { cidr: "203.0.113.0/24", region: "eu-west" },
      { cidr: "2001:db8::/32", region: "us-east" },
    ],
  });
});

Deno.test("HOPD_FEDERATION_* variables set lists and numbers", async () => {
  const { federation } = await loadConfig({
    env: {
      HOPD_FEDERATION_ENABLED: "true",
      HOPD_FEDERATION_MEMBERS: `${A},${B}`,
      HOPD_FEDERATION_CIDR_REGIONS: "10.0.0.0/8=lab",
      HOPD_FEDERATION_WEIGHT: "0",
    },
  });
  assert.equal(federation.enabled, true);
  assert.deepEqual(federation.members, [A, B]);
  assert.deepEqual(federation.cidrRegions, [{ cidr: "10.0.0.0/8", region: "lab" }]);
  assert.equal(federation.weight, 0);
});

Deno.test("bad [federation] values are refused naming the key", async (t) => {
  const cases: Array<[string, string, string]> = [
    ["enabled without members", "enabled = true", "'federation.members'"],
    [
      "dead_after not above suspect_after",
      "suspect_after = 3\ndead_after = 3",
      "'federation.dead_after'",
    ],
    ["coordinates out of range", 'coordinates = "91,0"', "'federation.coordinates'"],
    ["coordinates not numbers", 'coordinates = "north"', "'federation.coordinates'"],
    [
      "a CIDR map entry without region",
      'cidr_regions = ["10.0.0.0/8"]',
      "'federation.cidr_regions.0'",
    ],
    [
      "a CIDR map entry with a bad prefix",
      'cidr_regions = ["10.0.0.0/33=x"]',
      "'federation.cidr_regions.0'",
    ],
    [
      "a bootstrap address without /p2p/",
      'bootstrap = ["/ip4/192.0.2.1/tcp/4001"]',
      "'federation.bootstrap.0'",
    ],
    ["a member that is not a peer ID", 'members = ["bob"]', "'federation.members.0'"],
    ["weight above 1000", "weight = 1001", "'federation.weight'"],
    ["an unknown algorithm", 'algorithm = "random"', "'federation.algorithm'"],
    ["a region with spaces", 'region = "eu west"', "'federation.region'"],
    ["a zero interval", 'interval = "0s"', "'federation.interval'"],
  ];
  for (const [name, body, key] of cases) {
    await t.step(name, async () => {
      await assert.rejects(fromToml(`[federation]\n${body}\n`), (error: Error) => {
        assert.ok(error instanceof ConfigError);
        assert.ok(error.message.includes(key), error.message);
        return true;
      });
    });
  }
});
