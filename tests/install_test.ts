// scripts/install.sh and what reaches a host: the shipped policies with their fixtures and
// hopd.d.ts in /etc/hopd/policies (loaded by `hopd policy test` there), every doc the
// installed docs link to, and upgrades that never overwrite an operator's edited policy.
// Installs into temporary roots (--root) with a stand-in executable, as the systemd tests do.
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { REPO_ROOT } from "./_helpers/hopd_process.ts";
import { standInBinary } from "./_helpers/stand_in_binary.ts";

const decoder = new TextDecoder();

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const output = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  return { code: output.code, out: decoder.decode(output.stdout) + decoder.decode(output.stderr) };
}

async function emptyRoot(dir: string): Promise<string> {
  const root = join(dir, "root");
  for (const sub of ["etc", "usr/local/bin", "usr/lib/sysusers.d", "var/lib"]) {
    await Deno.mkdir(join(root, sub), { recursive: true });
  }
  await Deno.writeTextFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  await Deno.writeTextFile(join(root, "etc/group"), "root:x:0:\n");
  return root;
}

async function install(repo: string, binary: string, root: string): Promise<string> {
  const result = await run("bash", [
    join(repo, "scripts/install.sh"),
    "--binary",
    binary,
    "--root",
    root,
  ]);
  assert.equal(result.code, 0, result.out);
  return result.out;
}

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isDirectory) await walk(path);
      else out.push(relative(dir, path));
    }
  };
  await walk(dir);
  return out.sort();
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-install-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SHIPPED = (await files(join(REPO_ROOT, "policies"))).filter((f) =>
  f.endsWith(".js") || f === "hopd.d.ts"
);

Deno.test("install.sh installs the shipped policies, hopd.d.ts and every doc the installed docs link to", async (t) => {
  await withTempDir(async (dir) => {
    const root = await emptyRoot(dir);
    await install(REPO_ROOT, await standInBinary(dir), root);
    const policies = join(root, "etc/hopd/policies");

    await t.step("every shipped policy, its fixtures and hopd.d.ts, as shipped", async () => {
      assert.ok(SHIPPED.includes("hopd.d.ts") && SHIPPED.length >= 11, SHIPPED.join(" "));
      assert.deepEqual((await files(policies)).filter((f) => f !== ".shipped"), SHIPPED);
      for (const name of SHIPPED) {
        assert.equal(
          await Deno.readTextFile(join(policies, name)),
          await Deno.readTextFile(join(REPO_ROOT, "policies", name)),
          name,
        );
        assert.equal((await Deno.stat(join(policies, name))).mode! & 0o777, 0o644, name);
      }
    });

    await t.step("hopd loads them there: every fixture passes", async () => {
      const tested = await run(Deno.execPath(), [
        "run",
        "-A",
        "--quiet",
        "--config",
        join(REPO_ROOT, "deno.json"),
        join(REPO_ROOT, "main.ts"),
        "policy",
        "test",
        policies,
      ]);
      assert.equal(tested.code, 0, tested.out);
      assert.match(tested.out, /^5 modules: 5 ok, 0 failed; fixture cases: \d+ passed, 0 failed$/m);
    });

    await t.step(
      "every relative link of every installed doc reaches an installed file",
      async () => {
        const docRoot = join(root, "usr/local/share/doc/hopd");
        const docs = await files(docRoot);
        assert.ok(
          docs.includes("docs/POLICIES.md") && docs.includes("docs/FEDERATION.md"),
          docs.join(" "),
        );
        const broken: string[] = [];
        for (const doc of docs.filter((d) => d.endsWith(".md"))) {
          const text = await Deno.readTextFile(join(docRoot, doc));
          for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
            const path = link!.split("#")[0]!;
            if (path === "" || /^[a-z]+:/.test(path)) continue;
            const target = join(dirname(join(docRoot, doc)), path);
            if (!(await Deno.stat(target).then(() => true, () => false))) {
              broken.push(`${doc} → ${link}`);
            }
          }
        }
        assert.deepEqual(broken, []);
      },
    );
  });
});

Deno.test("install.sh upgrades the shipped policies without overwriting an operator's edits", async () => {
  await withTempDir(async (dir) => {
    const root = await emptyRoot(dir);
    const binary = await standInBinary(dir);
    await install(REPO_ROOT, binary, root);
    const policies = join(root, "etc/hopd/policies");

    // The operator edits one policy and deletes another.
    const edited = "// tuned for this host\n" +
      await Deno.readTextFile(join(policies, "restart_on_memory.js"));
    await Deno.writeTextFile(join(policies, "restart_on_memory.js"), edited);
    await Deno.remove(join(policies, "scale_up_on_load.js"));

    // The next release: three policies change, one is no longer shipped.
    const release = join(dir, "release");
    for (const sub of ["scripts", "docs", "bench", "policies"]) {
      await Deno.mkdir(join(release, sub), { recursive: true });
    }
    for (
      const path of [
        "scripts/install.sh",
        "scripts/hopd.service",
        "scripts/hopd.toml",
        "bench/RESULTS.md",
      ]
    ) {
      await Deno.copyFile(join(REPO_ROOT, path), join(release, path));
    }
    for (const doc of await files(join(REPO_ROOT, "docs"))) {
      await Deno.copyFile(join(REPO_ROOT, "docs", doc), join(release, "docs", doc));
    }
    for (const name of SHIPPED.filter((n) => n !== "alert_on_abuse.js")) {
      const text = await Deno.readTextFile(join(REPO_ROOT, "policies", name));
      const changed = ["restart_on_memory.js", "throttle_on_latency.js", "scale_up_on_load.js"]
        .includes(name);
      await Deno.writeTextFile(join(release, "policies", name), changed ? `${text}// v2\n` : text);
    }
    const upgrade = await install(release, binary, root);
    const read = (name: string) => Deno.readTextFile(join(policies, name));

    assert.equal(await read("restart_on_memory.js"), edited, "the edit is kept");
    assert.equal(
      await read("restart_on_memory.js.new"),
      await Deno.readTextFile(join(release, "policies/restart_on_memory.js")),
    );
    assert.match(upgrade, /kept your edited \/etc\/hopd\/policies\/restart_on_memory\.js/);
    assert.match(
      await read("throttle_on_latency.js"),
      /\/\/ v2\n$/,
      "an unedited policy is upgraded",
    );
    assert.equal(
      await Deno.stat(join(policies, "scale_up_on_load.js")).catch(() => undefined),
      undefined,
    );
    assert.equal(
      await Deno.stat(join(policies, "alert_on_abuse.js")).catch(() => undefined),
      undefined,
    );
    assert.equal(
      await read("alert_on_abuse_test.js"),
      await Deno.readTextFile(join(REPO_ROOT, "policies/alert_on_abuse_test.js")),
    );

    // Once more: nothing changes.
    const again = await install(release, binary, root);
    assert.doesNotMatch(again, /wrote|removed/);
  });
});
