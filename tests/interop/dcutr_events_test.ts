// accountDcutr() over the clients' event shapes as they print them (go-libp2p v0.52.0's
// holepunch tracer, rust-libp2p 0.57's dcutr event; the go->rust eim miss of the 2026-12-06
// test command log, trimmed).
import assert from "node:assert/strict";
import { accountDcutr } from "./dcutr_events.ts";
import type { ClientResult } from "./result.ts";

function client(impl: "go" | "rust", role: "listen" | "dial", events: unknown[]): ClientResult {
  return {
    schema: "hopd-interop/1",
    impl,
    version: "",
    role,
    peerId: "",
    relay: "",
    ok: true,
    errors: [],
    relayPingMs: null,
    reservation: null,
    connect: null,
    echo: null,
    holepunch: { direct: false, directAfterMs: null, events },
    closed: null,
    observedAddrs: [],
    listenAddrs: [],
    totalMs: 0,
  };
}

const RESET = {
  atMs: 1076.2,
  event: { Error: "failed to read message from initiator: stream reset: stream reset" },
  type: "ProtocolError",
};
const START = {
  atMs: 11072.9,
  event: { RemoteAddrs: ["/ip4/11.0.0.2/tcp/35557"] },
  type: "StartHolePunch",
};
const END_TIMEOUT = {
  atMs: 16073.4,
  event: {
    Success: false,
    Error:
      "failed to dial: all dials failed\n  * [/ip4/11.0.0.2/tcp/35557] dial tcp4 0.0.0.0:44393->11.0.0.2:35557: i/o timeout",
  },
  type: "EndHolePunch",
};
const RUST_GAVE_UP = {
  atMs: 31584.1,
  error: "Failed to hole-punch connection: Giving up after 3 dial attempts",
  ok: false,
  peer: "12D3KooW",
  type: "dcutr",
};

Deno.test("accountDcutr() reads the go->rust race as an exchange hopd carried", () => {
  const account = accountDcutr([
    client("rust", "listen", [RUST_GAVE_UP]),
    client("go", "dial", [RESET, START, END_TIMEOUT, START, END_TIMEOUT]),
  ]);
  assert.equal(account.exchangeRelayed, true);
  assert.equal(account.syncLostToReset, true);
  assert.equal(
    account.summary,
    "rust listen: Giving up after 3 dial attempts; go dial: stream reset before SYNC, " +
      "2 exchange(s) read in full, 2 hole-punch dial(s) failed, timed out",
  );
});

Deno.test("accountDcutr() takes go's full read or rust's failed dials as proof", async (t) => {
  const table: { name: string; results: ClientResult[]; relayed: boolean; lost: boolean }[] = [
    {
      name: "go's reset alone",
      results: [client("go", "dial", [RESET])],
      relayed: false,
      lost: true,
    },
    {
      name: "go's exchange alone",
      results: [client("go", "dial", [START])],
      relayed: true,
      lost: false,
    },
    {
      name: "rust's failed dials alone",
      results: [client("rust", "listen", [RUST_GAVE_UP])],
      relayed: true,
      lost: false,
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      const account = accountDcutr(row.results);
      assert.equal(account.exchangeRelayed, row.relayed);
      assert.equal(account.syncLostToReset, row.lost);
    });
  }
});

Deno.test("accountDcutr() does not count an exchange that never went through hopd", async (t) => {
  const table: { name: string; results: (ClientResult | undefined)[]; summary: string }[] = [
    { name: "no results", results: [undefined, undefined], summary: "no DCUtR events" },
    {
      name: "no events",
      results: [client("go", "dial", []), client("rust", "listen", [])],
      summary: "no DCUtR events",
    },
    {
      name: "go's read failed otherwise",
      results: [
        client("go", "dial", [{
          type: "ProtocolError",
          event: { Error: "failed to read message from initiator: deadline exceeded" },
        }]),
      ],
      summary: "go dial: 1 other protocol error(s)",
    },
    {
      name: "rust's outbound protocol failed",
      results: [
        client("rust", "listen", [{
          ...RUST_GAVE_UP,
          error: "Failed to hole-punch connection: Outbound error: stream closed",
        }]),
      ],
      summary: "rust listen: Outbound error: stream closed",
    },
    {
      name: "a success is no proof of a missed one",
      results: [client("rust", "listen", [{ ...RUST_GAVE_UP, ok: true, error: null }])],
      summary: "no DCUtR events",
    },
  ];
  for (const row of table) {
    await t.step(row.name, () => {
      const account = accountDcutr(row.results);
      assert.equal(account.exchangeRelayed, false);
      assert.equal(account.syncLostToReset, false);
      assert.equal(account.summary, row.summary);
    });
  }
});
