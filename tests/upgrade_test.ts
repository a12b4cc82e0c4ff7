// scripts/upgrade.sh against a real hopd, with a stand-in `systemctl` (first on PATH) that
// restarts the process the way systemd would (SIGTERM, wait, start again on the same ops
// port and data dir). A circuit opened before the upgrade keeps relaying while the node
// drains and new clients are refused; the node comes back with the same peer ID, ready and
// not draining, and the new binary is installed. A failure before the restart undoes the
// drain.

import assert from "node:assert/strict";
import type { Libp2p } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";
import { eventually } from "./_helpers/ops_probe.ts";
import { canReserve, reserveOn } from "./_helpers/reserving_client.ts";
// @ts-types="./interop/relay_echo_client.d.ts"
import {
  createClient,
  ECHO_PROTOCOL,
  echoThrough,
  serveEcho,
  waitForCircuitAddr,
} from "./interop/relay_echo_client.mjs";

const UPGRADE = `${REPO_ROOT}scripts/upgrade.sh`;

/** A port the OS had free a moment ago (the restart must come back on the same one). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** systemctl for the test: `start`/`restart` run $FAKE_UNIT_DIR/start, tracking its pid. */
const FAKE_SYSTEMCTL = `#!/usr/bin/env bash
set -euo pipefail
dir="$FAKE_UNIT_DIR"
echo "$*" >>"$dir/calls"
stop() {
  [[ -f "$dir/pid" ]] || return 0
  local pid; pid="$(cat "$dir/pid")"
  kill -TERM "$pid" 2>/dev/null || return 0
  # Polls: hopd is not this call's child (an earlier call started it), so there is no exit to wait on.
  for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid"
}
start() {
  nohup bash "$dir/start" >>"$dir/hopd.log" 2>&1 &
  echo $! >"$dir/pid"
}
case "$1" in
  start) start ;;
  restart) stop; start ;;
  stop) stop ;;
  *) echo "fake systemctl: $1 not supported" >&2; exit 1 ;;
esac
`;

async function status(opsUrl: string): Promise<Record<string, unknown>> {
  return await (await fetch(`${opsUrl}/v1/status`)).json();
}

async function readyCode(opsUrl: string): Promise<number> {
  try {
    const response = await fetch(`${opsUrl}/ready`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

Deno.test("upgrade.sh drains, lets open circuits finish, restarts and resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-upgrade-" });
  const opsPort = freePort();
  const opsUrl = `http://127.0.0.1:${opsPort}`;
  const token = "0123456789abcdef0123456789abcdef";
  await Deno.writeTextFile(`${dir}/admin.token`, token + "\n", { mode: 0o600 });
  await Deno.mkdir(`${dir}/bin`);
  await Deno.writeTextFile(`${dir}/bin/systemctl`, FAKE_SYSTEMCTL, { mode: 0o755 });
  await Deno.writeTextFile(
    `${dir}/start`,
    [
      `cd '${REPO_ROOT}'`,
      `exec '${Deno.execPath()}' run -P=hopd --quiet main.ts run --http 127.0.0.1:${opsPort}` +
      ` --data-dir '${dir}/data' --listen /ip4/127.0.0.1/tcp/0 --log-format json`,
    ].join("\n") + "\n",
  );
  // The "new release": a stand-in binary (the real one cannot be compiled here).
  await Deno.writeTextFile(
    `${dir}/hopd-new`,
    `#!/bin/sh\nexec '${Deno.execPath()}' run -P=hopd --quiet --config '${REPO_ROOT}deno.json' '${REPO_ROOT}main.ts' "$@"\n`,
    { mode: 0o755 },
  );
  const env = childEnv({
    PATH: `${dir}/bin:${Deno.env.get("PATH")}`,
    FAKE_UNIT_DIR: dir,
    HOPD_ADMIN_TOKEN_FILE: `${dir}/admin.token`,
    HOPD_NODE_DRAIN_TIMEOUT: "2s",
    NO_COLOR: "1",
  });
  const upgradeArgs = [
    UPGRADE,
    "--url",
    opsUrl,
    "--token-file",
    `${dir}/admin.token`,
    "--binary",
    `${dir}/hopd-new`,
    "--install-to",
    `${dir}/installed-hopd`,
    "--config",
    `${REPO_ROOT}scripts/hopd.toml`,
    "--drain-timeout",
    "30",
  ];
  const clients: Libp2p[] = [];
  try {
    const start = await new Deno.Command("bash", { args: [`${dir}/bin/systemctl`, "start"], env })
      .output();
    assert.ok(start.success);
    // Polls /ready: the stand-in systemctl starts hopd detached, its output in a file, and has no
    // readiness protocol of its own; /ready is what an operator (and upgrade.sh) asks.
    assert.ok(await eventually(async () => await readyCode(opsUrl) === 200, 30_000), "no start");
    const before = await status(opsUrl);
    const relayAddr = (before.listen as string[])[0]!;

    // A failure before the restart leaves the old process serving, undrained.
    const failing = await new Deno.Command("bash", {
      args: [...upgradeArgs.slice(0, -6), "--install-to", "/nonexistent/dir/hopd"],
      env,
    }).output();
    assert.equal(failing.code, 1);
    assert.match(new TextDecoder().decode(failing.stdout), /resuming the old process/);
    assert.equal(await readyCode(opsUrl), 200);
    assert.equal((await status(opsUrl)).draining, false);

    // A circuit: A reserves and echoes, B dials A through hopd and keeps the connection.
    const a = await reserveOn(relayAddr);
    assert.ok(a);
    clients.push(a);
    await serveEcho(a);
    const circuitAddr = `${(await waitForCircuitAddr(a, 5_000)).toString()}`;
    const b = await createClient();
    clients.push(b);
    const connection = await b.dial(multiaddr(circuitAddr));
    const echo = async () => {
      const stream = await connection.newStream(ECHO_PROTOCOL, { runOnLimitedConnection: true });
      return (await echoThrough(stream, 1024)).intact;
    };
    assert.equal(await echo(), true);

    const upgradeStartedMs = Date.now();
    const upgrade = new Deno.Command("bash", { args: upgradeArgs, env, stdout: "piped" }).spawn();
    // Wait for the script to say it drained (before that it checks the new binary, which takes
    // seconds on a busy machine), not for a fixed time.
    let out = "";
    const draining = Promise.withResolvers<void>();
    const reading = (async () => {
      for await (const chunk of upgrade.stdout.pipeThrough(new TextDecoderStream())) {
        out += chunk;
        if (out.includes("upgrade.sh: draining:")) draining.resolve();
      }
      draining.reject(new Error(`upgrade.sh ended without draining:\n${out}`));
    })();
    await draining.promise;
    // Draining: /ready 503, a new client is refused, the open circuit still relays.
    assert.equal(await readyCode(opsUrl), 503);
    assert.equal(await canReserve(relayAddr), false, "a new client reserved during the drain");
    assert.equal(await echo(), true, "the open circuit stopped relaying during the drain");
    assert.equal(((await status(opsUrl)).relay as { circuits: number }).circuits, 1);
    await connection.close();

    const { code } = await upgrade.status;
    await reading;
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`ready again as ${before.peerId}`));
    const calls = await Deno.readTextFile(`${dir}/calls`);
    assert.match(calls, /^restart hopd\.service$/m);

    const after = await status(opsUrl);
    assert.equal(after.peerId, before.peerId);
    assert.equal(after.draining, false);
    assert.ok(
      (after.uptimeSeconds as number) < (Date.now() - upgradeStartedMs) / 1000,
      "the process answering is older than the upgrade",
    );
    assert.equal((await Deno.stat(`${dir}/installed-hopd`)).mode! & 0o777, 0o755);
    assert.equal(await canReserve((after.listen as string[])[0]!), true);
  } finally {
    await Promise.allSettled(clients.map((c) => c.stop()));
    await new Deno.Command("bash", { args: [`${dir}/bin/systemctl`, "stop"], env }).output();
    await Deno.remove(dir, { recursive: true });
  }
});
