import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { MetricsRegistry } from "../metrics/mod.ts";
import type { Selection } from "../balancer/mod.ts";
import type { FederationView, SelectRequest } from "../federation/mod.ts";
import { createOpsApp, type FederationRoutesComponents, type HttpAdmission } from "./mod.ts";

const PEER = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

const VIEW: FederationView = {
  enabled: true,
  self: PEER,
  topic: "hopd/federation/1",
  members: [{
    peerId: PEER,
    state: "alive",
    self: true,
    lastReportAgeMs: 0,
    addrs: [`/ip4/192.0.2.1/tcp/4001/p2p/${PEER}`],
    region: "eu-west",
    lat: 50.11,
    lon: 8.68,
    draining: false,
    verdict: "healthy",
    weight: 1,
    connected: true,
    capacity: { maxReservations: 16_384, maxCircuits: 4_096 },
    load: {
      reservations: 3,
      circuits: 1,
      bytesPerSecondIn: 0,
      bytesPerSecondOut: 0,
      cpu: 0.02,
      memoryBytes: 1e8,
    },
    rttMs: 0,
  }],
};

function app(components: Partial<FederationRoutesComponents> = {}, admission?: HttpAdmission) {
  const requests: SelectRequest[] = [];
  const ops = createOpsApp({
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    ...(admission === undefined ? {} : { httpAdmission: () => admission }),
    federation: {
      view: () => VIEW,
      select: (request) => {
        requests.push(request);
        return Promise.resolve(
          {
            algorithm: request.algorithm ?? "capacity",
            relays: [{
              peerId: PEER,
              addrs: VIEW.members[0]!.addrs,
              score: 0.99,
              region: "eu-west",
            }],
          } satisfies Selection,
        );
      },
      ...components,
    },
  });
  return { ops, requests };
}

Deno.test("GET /v1/select passes the client's hints and IP to the federation and answers its ranking", async () => {
  const { ops, requests } = app();
  const response = await ops.request(
    `/v1/select?peer=${PEER}&lat=48.85&lon=2.35&n=2&algorithm=geo`,
    {},
    { remoteAddr: { transport: "tcp", hostname: "203.0.113.9", port: 5555 } },
  );
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    algorithm: "geo",
    relays: [{ peerId: PEER, addrs: VIEW.members[0]!.addrs, score: 0.99, region: "eu-west" }],
  });
  assert.deepEqual(requests, [{
    peer: PEER,
    lat: 48.85,
    lon: 2.35,
    n: 2,
    algorithm: "geo",
    ip: "203.0.113.9",
  }]);
});

Deno.test("GET /v1/select carries CORS headers and answers the preflight", async () => {
  const { ops } = app();
  const response = await ops.request("/v1/select", { headers: { Origin: "https://app.example" } });
  assert.equal(response.headers.get("access-control-allow-origin"), "*");
  await response.body?.cancel();
  const preflight = await ops.request("/v1/select", {
    method: "OPTIONS",
    headers: { Origin: "https://app.example", "Access-Control-Request-Method": "GET" },
  });
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers.get("access-control-allow-methods") ?? "", /GET/);
});

Deno.test("GET /v1/select refuses bad hints with 400 naming the field", async (t) => {
  const { ops, requests } = app();
  for (
    const [query, field] of [["n=0", "'n'"], ["lat=1", "'lat' and 'lon'"], ["peer=bob", "'peer'"], [
      "algorithm=x",
      "'algorithm'",
    ]]
  ) {
    await t.step(query!, async () => {
      const response = await ops.request(`/v1/select?${query}`);
      assert.equal(response.status, 400);
      const body = await response.json();
      assert.equal(body.error.code, "BAD_REQUEST");
      assert.ok(body.error.message.includes(field!), body.error.message);
    });
  }
  assert.equal(requests.length, 0);
});

Deno.test("GET /v1/select is rate limited like every /v1 route", async () => {
  const { ops, requests } = app({}, { ok: false, retryAfterMs: 2_000 });
  const response = await ops.request("/v1/select", {}, {
    remoteAddr: { transport: "tcp", hostname: "203.0.113.9", port: 1 },
  });
  assert.equal(response.status, 429);
  assert.equal(response.headers.get("retry-after"), "2");
  await response.body?.cancel();
  assert.equal(requests.length, 0);
});

Deno.test("with federation off, /v1/federation says so and /v1/select answers 503", async () => {
  const ops = createOpsApp({
    registry: new MetricsRegistry(),
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    federation: {
      view: () => ({ enabled: false, self: PEER, topic: "hopd/federation/1", members: [] }),
    },
  });
  const view = await ops.request("/v1/federation");
  assert.deepEqual(await view.json(), {
    enabled: false,
    self: PEER,
    topic: "hopd/federation/1",
    members: [],
  });
  const select = await ops.request("/v1/select");
  assert.equal(select.status, 503);
  assert.equal((await select.json()).error.code, "FEDERATION_DISABLED");
});

Deno.test("GET /v1/federation answers the view; both routes are in a valid /openapi.json", async () => {
  const { ops } = app();
  const view = await ops.request("/v1/federation");
  assert.equal(view.status, 200);
  assert.deepEqual(await view.json(), VIEW);
  const document = await (await ops.request("/openapi.json")).json();
  assert.ok(document.paths["/v1/select"].get.responses["200"]);
  assert.ok(document.paths["/v1/select"].get.responses["503"]);
  assert.deepEqual(
    document.paths["/v1/select"].get.parameters.map((p: { name: string }) => p.name).sort(),
    ["algorithm", "lat", "lon", "n", "peer", "region"],
  );
  assert.ok(document.paths["/v1/federation"].get.responses["200"]);
  assert.deepEqual(await new Validator().validate(document), { valid: true });
});
