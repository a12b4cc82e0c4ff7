// The systemd kit: scripts/hopd.service passes `systemd-analyze verify` with no output and
// scores ≤ 2.0 in `systemd-analyze security` (alone and with the low-port drop-in);
// scripts/install.sh installs into a temporary root, changes nothing when run again and
// uninstalls to exactly what it documents; and hopd runs under the parts of the unit's
// sandbox that can be built without systemd (tests/_helpers/systemd_sandbox.sh), talks
// sd_notify there, and uses only the system calls and socket families the unit allows.
//
// The real binary cannot be built here (`deno compile` needs denort), so the install test
// installs a stand-in: a shell script running `deno run -P=hopd main.ts`, which is exactly
// what the binary embeds.

import assert from "node:assert/strict";
import { childEnv } from "./_helpers/child_env.ts";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";
import { standInBinary } from "./_helpers/stand_in_binary.ts";
import { Arrivals, metric, transportAddr } from "./_helpers/ops_probe.ts";
import { reserveOn } from "./_helpers/reserving_client.ts";

const UNIT = `${REPO_ROOT}scripts/hopd.service`;
const LOW_PORT = `${REPO_ROOT}scripts/hopd-low-port.conf`;
const INSTALL = `${REPO_ROOT}scripts/install.sh`;
const SANDBOX = `${REPO_ROOT}tests/_helpers/systemd_sandbox.sh`;
const decoder = new TextDecoder();

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(cmd, {
    args,
    clearEnv: true,
    env: childEnv(env),
    stdin: "null",
  }).output();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The unit with ExecStart pointing at an existing executable, as `verify` requires. */
async function verifiableUnit(unitText: string, dir: string): Promise<string> {
  const binary = `${dir}/hopd-exec`;
  await Deno.writeTextFile(binary, "#!/bin/sh\n");
  await Deno.chmod(binary, 0o755);
  const path = `${dir}/hopd.service`;
  await Deno.writeTextFile(path, unitText.replaceAll("/usr/local/bin/hopd", binary));
  return path;
}

async function exposure(unitPath: string): Promise<number> {
  const { stdout, stderr } = await run("systemd-analyze", [
    "security",
    "--offline=true",
    unitPath,
  ]);
  const match = /Overall exposure level for \S+: (\d+\.\d+)/.exec(stdout);
  assert.ok(match, `no exposure level in:\n${stdout}${stderr}`);
  return Number(match[1]);
}

/** Every path under `dir` with its type, mode and content hash, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries: string[] = [];
  async function walk(path: string) {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      const info = await Deno.lstat(full);
      const mode = (info.mode! & 0o7777).toString(8);
      if (info.isSymlink) {
        entries.push(`${full.slice(dir.length)} -> ${await Deno.readLink(full)}`);
      } else if (info.isDirectory) {
        entries.push(`${full.slice(dir.length)}/ ${mode}`);
        await walk(full);
      } else {
        const hash = await crypto.subtle.digest("SHA-256", await Deno.readFile(full));
        const hex = Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0"))
          .join("");
        entries.push(`${full.slice(dir.length)} ${mode} ${hex.slice(0, 16)}`);
      }
    }
  }
  await walk(dir);
  return entries.sort();
}

Deno.test("systemd-analyze verify prints nothing for hopd.service", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-unit-" });
  try {
    const unit = await verifiableUnit(await Deno.readTextFile(UNIT), dir);
    const result = await run("systemd-analyze", ["verify", unit]);
    assert.equal(result.stdout + result.stderr, "", "verify must print nothing");
    assert.equal(result.code, 0);
    // The check would catch a mistake: an unknown key makes verify talk (and still exit 0).
    await Deno.writeTextFile(
      unit,
      (await Deno.readTextFile(unit)).replace("[Service]", "[Service]\nWatchDogSec=30s"),
    );
    const broken = await run("systemd-analyze", ["verify", unit]);
    assert.match(broken.stdout + broken.stderr, /Unknown key 'WatchDogSec'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("systemd-analyze security scores hopd.service at most 2.0", async (t) => {
  const unitText = await Deno.readTextFile(UNIT);
  await t.step("the unit as shipped", async () => {
    const level = await exposure(UNIT);
    assert.ok(level <= 2.0, `exposure ${level} > 2.0`);
  });
  await t.step("with the low-port drop-in", async () => {
    const dir = await Deno.makeTempDir({ prefix: "hopd-unit-" });
    try {
      // A drop-in's assignments apply after the unit's: appending them is equivalent.
      await Deno.writeTextFile(
        `${dir}/hopd.service`,
        unitText + "\n" + await Deno.readTextFile(LOW_PORT),
      );
      const level = await exposure(`${dir}/hopd.service`);
      assert.ok(level <= 2.0, `exposure ${level} > 2.0`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("the settings the issue asks for are there", () => {
    for (
      const line of [
        "Type=notify",
        "WatchdogSec=",
        "DynamicUser=yes",
        "StateDirectory=hopd",
        "ConfigurationDirectory=hopd",
        "LimitNOFILE=",
        "Restart=on-failure",
        "RestartForceExitStatus=75",
        "RestartPreventExitStatus=78",
        "ProtectSystem=strict",
        "ProcSubset=pid",
        "CapabilityBoundingSet=\n",
      ]
    ) {
      assert.ok(unitText.includes(line), `missing ${JSON.stringify(line)}`);
    }
    assert.ok(!/^MemoryDenyWriteExecute=yes/m.test(unitText), "V8's JIT dies under it");
  });
});

Deno.test("install.sh installs into a temp root, again without change, and uninstalls", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hopd-install-" });
  const root = `${dir}/root`;
  try {
    const binary = await standInBinary(dir);
    // A root with the standard directories and user files any host has.
    for (
      const sub of [
        "etc/systemd/system/multi-user.target.wants",
        "usr/local/bin",
        "usr/local/share/doc",
        "usr/lib/sysusers.d",
        "var/lib",
      ]
    ) {
      await Deno.mkdir(`${root}/${sub}`, { recursive: true });
    }
    await Deno.writeTextFile(`${root}/etc/passwd`, "root:x:0:0:root:/root:/bin/bash\n");
    await Deno.writeTextFile(`${root}/etc/group`, "root:x:0:\n");
    await Deno.writeTextFile(`${root}/etc/shadow`, "root:*:19000:0:99999:7:::\n", { mode: 0o640 });
    await Deno.writeTextFile(`${root}/etc/gshadow`, "root:*::\n", { mode: 0o640 });
    const before = await tree(root);

    const args = ["--binary", binary, "--root", root, "--enable", "--low-port"];
    const first = await run("bash", [INSTALL, ...args]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /installed hopd 0\.1\.0/);
    const installed = await tree(root);

    assert.equal(
      await Deno.readTextFile(`${root}/etc/systemd/system/hopd.service`),
      await Deno.readTextFile(UNIT),
    );
    assert.ok(installed.some((e) => e.startsWith("/etc/hopd/admin.token 600 ")));
    const token = (await Deno.readTextFile(`${root}/etc/hopd/admin.token`)).trim();
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.match(await Deno.readTextFile(`${root}/etc/passwd`), /^hopd:x:\d+:\d+:/m);
    assert.ok(
      installed.includes(
        "/etc/systemd/system/multi-user.target.wants/hopd.service -> /etc/systemd/system/hopd.service",
      ),
      installed.join("\n"),
    );
    for (
      const path of [
        "/usr/local/bin/hopd 755",
        "/etc/hopd/hopd.toml 644",
        "/etc/systemd/system/hopd.service.d/low-port.conf 644",
        "/usr/lib/sysusers.d/hopd.conf 644",
        "/usr/local/share/doc/hopd/docs/OPERATIONS.md 644",
        "/etc/hopd/policies/restart_on_memory.js 644",
      ]
    ) {
      assert.ok(installed.some((e) => e.startsWith(path)), `${path} not installed`);
    }
    // The installed unit verifies cleanly with the installed binary.
    const unit = await verifiableUnit(
      await Deno.readTextFile(`${root}/etc/systemd/system/hopd.service`),
      dir,
    );
    const verify = await run("systemd-analyze", ["verify", unit]);
    assert.equal(verify.stdout + verify.stderr, "");

    // An operator's edits survive a second install, which otherwise changes nothing.
    const second = await run("bash", [INSTALL, ...args]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.deepEqual(await tree(root), installed);
    assert.doesNotMatch(second.stdout, /wrote/);

    // A binary with the wrong checksum is refused before anything changes.
    const badSum = await run("bash", [INSTALL, ...args, "--sha256", "00".repeat(32)]);
    assert.notEqual(badSum.code, 0);
    assert.match(badSum.stderr, /has SHA-256 [0-9a-f]{64}, not 0{64}/);
    assert.deepEqual(await tree(root), installed);

    // --uninstall keeps config, token, state and the user; --purge removes them too.
    const kept = installed.filter((e) =>
      e.startsWith("/etc/hopd") || e.startsWith("/etc/passwd") || e.startsWith("/etc/group") ||
      e.startsWith("/etc/shadow") || e.startsWith("/etc/gshadow") || e.startsWith("/etc/.pwd")
    );
    const uninstall = await run("bash", [INSTALL, "--uninstall", "--root", root]);
    assert.equal(uninstall.code, 0, uninstall.stderr);
    const afterUninstall = await tree(root);
    const expected = [
      ...new Set([
        ...before.filter((e) => !/^\/etc\/(passwd|group|shadow|gshadow) /.test(e)),
        ...kept,
      ]),
    ].sort();
    assert.deepEqual(afterUninstall, expected);

    const purge = await run("bash", [INSTALL, "--uninstall", "--purge", "--root", root]);
    assert.equal(purge.code, 0, purge.stderr);
    const afterPurge = await tree(root);
    // Only the user tools' lock and backup files are new (documented in install.sh).
    const extra = afterPurge.filter((e) => !before.includes(e)).map((e) => e.split(" ")[0]);
    for (const path of extra) {
      assert.match(path!, /^\/etc\/(\.pwd\.lock|(passwd|group|shadow|gshadow)-?)$/, path);
    }
    assert.doesNotMatch(await Deno.readTextFile(`${root}/etc/passwd`), /^hopd:/m);
    assert.doesNotMatch(await Deno.readTextFile(`${root}/etc/group`), /^hopd:/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Expands systemd syscall groups (`@system-service`) into syscall names. */
async function expandSyscalls(items: string[], seen = new Set<string>()): Promise<Set<string>> {
  const names = new Set<string>();
  for (const item of items) {
    if (!item.startsWith("@")) {
      names.add(item);
      continue;
    }
    if (seen.has(item)) continue;
    seen.add(item);
    const { stdout } = await run("systemd-analyze", ["syscall-filter", item]);
    const members = stdout.split("\n").slice(1).map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    for (const name of await expandSyscalls(members, seen)) names.add(name);
  }
  return names;
}

/** The unit's SystemCallFilter= as allowed names, and its RestrictAddressFamilies=. */
async function unitFilters(): Promise<{ allowed: Set<string>; families: Set<string> }> {
  const text = await Deno.readTextFile(UNIT);
  const allow: string[] = [];
  const deny: string[] = [];
  for (const [, value] of text.matchAll(/^SystemCallFilter=(.*)$/gm)) {
    if (value!.startsWith("~")) deny.push(...value!.slice(1).split(/\s+/));
    else allow.push(...value!.split(/\s+/));
  }
  const allowed = await expandSyscalls(allow);
  for (const name of await expandSyscalls(deny)) allowed.delete(name);
  const families = new Set(/^RestrictAddressFamilies=(.*)$/m.exec(text)![1]!.split(/\s+/));
  return { allowed, families };
}

const canSandbox = Deno.uid() === 0 &&
  ["unshare", "setpriv", "strace"].every((cmd) =>
    new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" }).outputSync()
      .success
  );

Deno.test({
  name: "hopd runs under the unit's sandbox: notify, watchdog, a reservation, allowed syscalls",
  // The sandbox needs root for its mount namespace; CI runs as root.
  ignore: !canSandbox,
}, async () => {
  const state = await Deno.makeTempDir({ prefix: "hopd-sandbox-" });
  await Deno.copyFile(`${REPO_ROOT}scripts/hopd.toml`, `${state}/hopd.toml`);
  const notify = Deno.listenDatagram({ transport: "unixpacket", path: `${state}/notify.sock` });
  const messages: string[] = [];
  // Each datagram and each stderr chunk wakes the checks below.
  const arrivals = new Arrivals();
  const receiving = (async () => {
    try {
      for (;;) {
        const [data] = await notify.receive();
        messages.push(decoder.decode(data));
        arrivals.arrived();
      }
    } catch { /* closed */ }
  })();
  const child = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      SANDBOX,
      state,
      REPO_ROOT,
      "--",
      "strace",
      "-f",
      "-qq",
      "-y",
      "-o",
      "/mnt/strace.txt",
      Deno.execPath(),
      "run",
      "-P=hopd",
      "--quiet",
      "main.ts",
      "run",
      "--config",
      "/mnt/hopd.toml",
      "--data-dir",
      "/mnt/data",
      "--http",
      "127.0.0.1:0",
      "--listen",
      "/ip4/127.0.0.1/tcp/0",
      "--listen",
      "/ip4/127.0.0.1/tcp/0/ws",
    ],
    clearEnv: true,
    env: childEnv({ NO_COLOR: "1", NOTIFY_SOCKET: "/mnt/notify.sock", WATCHDOG_USEC: "400000" }),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      logs.push(chunk);
      arrivals.arrived();
    }
  })();
  let hopdPid: number | undefined;
  try {
    let port = 0;
    let addrs: string[] = [];
    assert.ok(
      await arrivals.until(() => {
        for (const line of logs.join("").split("\n")) {
          try {
            const props = JSON.parse(line).properties ?? {};
            if (typeof props.port === "number") port = props.port;
            if (Array.isArray(props.addrs)) addrs = props.addrs;
          } catch { /* partial line */ }
        }
        return port > 0 && addrs.length > 0;
      }, 60_000),
      `hopd did not start in the sandbox:\n${logs.join("")}`,
    );
    const opsUrl = `http://127.0.0.1:${port}`;
    assert.ok(await arrivals.until(() => messages.some((m) => m.startsWith("READY=1")), 10_000));
    assert.ok(await arrivals.until(() => messages.includes("WATCHDOG=1"), 5_000), "no WATCHDOG=1");
    assert.equal((await fetch(`${opsUrl}/ready`)).status, 200);
    assert.ok(await metric(opsUrl, "process_resident_memory_bytes") > 10_000_000);

    const client = await reserveOn(transportAddr(addrs, "tcp"));
    assert.ok(client, "the reservation was refused");
    try {
      // The client's start awaited the reservation's OK, which hopd sends once it holds it.
      assert.equal(await metric(opsUrl, "hopd_reservations_active"), 1);
    } finally {
      await client.stop();
    }

    // strace's child is hopd; SIGTERM it as systemd would.
    const children = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`);
    hopdPid = Number(children.trim().split(" ")[0]);
    Deno.kill(hopdPid, "SIGTERM");
    const status = await child.status;
    assert.equal(status.code, 0, logs.join(""));
    assert.ok(messages.some((m) => m.startsWith("STOPPING=1")), "no STOPPING=1");
    assert.ok((await Deno.stat(`${state}/data/identity.key`)).isFile);

    // Deno run from source keeps a cache in DENO_DIR (sqlite, which fchown()s its files when
    // euid is 0); the compiled binary has no such cache, so calls on those files are not
    // counted. strace -y prints each descriptor's path.
    const { stdout: info } = await run(Deno.execPath(), ["info", "--json"]);
    const denoDir = JSON.parse(info).denoDir as string;
    const trace = (await Deno.readTextFile(`${state}/strace.txt`)).split("\n")
      .filter((line) => !line.includes(`<${denoDir}/`)).join("\n");
    const used = new Set([...trace.matchAll(/^\d+ +(\w+)\(/gm)].map((m) => m[1]!));
    const { allowed, families } = await unitFilters();
    assert.ok(used.size > 30, `only ${used.size} syscalls traced`);
    const outside = [...used].filter((name) => !allowed.has(name));
    assert.deepEqual(outside, [], "system calls outside the unit's SystemCallFilter");
    const opened = new Set([...trace.matchAll(/ socket\((AF_\w+)/g)].map((m) => m[1]!));
    assert.ok(opened.has("AF_INET"));
    assert.deepEqual([...opened].filter((f) => !families.has(f)), []);
  } finally {
    if (hopdPid === undefined) {
      // Kill hopd first: a tracee may outlive a killed strace.
      const children = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`)
        .catch(() => "");
      for (const pid of children.trim().split(" ").filter(Boolean)) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch { /* gone */ }
      }
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await child.status;
    await reading.catch(() => {});
    notify.close();
    await receiving;
    await Deno.remove(state, { recursive: true });
  }
});
