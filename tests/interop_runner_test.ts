// `deno task interop` on a machine without Go or Rust: it names each missing client in one
// line and, under CI=true, counts it as a failure (exit 1); the hopd-interop/1 result parser
// refuses a line that drifts from the schema.
import assert from "node:assert/strict";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";
import { parseClientResult } from "./interop/result.ts";

async function runInterop(env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    // No suite matches "none": only the client preparation runs.
    args: ["run", "-A", "tests/interop/main.ts", "--clients", "go,rust", "--suites", "none"],
    cwd: REPO_ROOT,
    // /bin has sh but neither go nor cargo.
    env: { PATH: "/bin", NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

Deno.test("deno task interop names a missing go or cargo in one line each, and fails under CI=true", async () => {
  const ci = await runInterop({ CI: "true" });
  assert.equal(ci.code, 1);
  const lines = ci.stdout.trim().split("\n");
  assert.deepEqual(lines, [
    "interop: go client left out: go is not installed (CI=true: counted as a failure)",
    "interop: rust client left out: cargo is not installed (CI=true: counted as a failure)",
    lines.at(-1),
  ]);
  assert.match(lines.at(-1)!, /^interop: 0 passed, 2 failed \(/);
  const local = await runInterop({ CI: "false" });
  assert.match(local.stdout, /^interop: go client left out: go is not installed$/m);
  assert.match(local.stdout, /^interop: 0 passed, 0 failed \(/m);
});

Deno.test("parseClientResult() takes the last JSON line and refuses one off the schema", () => {
  const line = {
    schema: "hopd-interop/1",
    impl: "go",
    version: "go-libp2p v0.52.0",
    role: "dial",
    peerId: "12D3KooW",
    relay: "/ip4/127.0.0.1/tcp/1/p2p/12D3KooW",
    ok: true,
    errors: [],
    relayPingMs: 1.5,
    reservation: null,
    connect: { ms: 3, relayed: true, remoteAddr: "/p2p-circuit", limit: null },
    echo: { bytes: 4, sent: 4, received: 4, intact: true, ms: 1, via: "relayed" },
    holepunch: null,
    closed: null,
    observedAddrs: [],
    listenAddrs: [],
    totalMs: 9,
  };
  const parsed = parseClientResult(`noise\n${JSON.stringify(line)}\n`);
  assert.equal(parsed.echo?.via, "relayed");
  assert.throws(
    () => parseClientResult(JSON.stringify({ ...line, echo: { ...line.echo, via: "carrier" } })),
    /does not fit hopd-interop\/1/,
  );
  assert.throws(() => parseClientResult("no json here"), /no result line/);
});
