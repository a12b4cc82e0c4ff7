import assert from "node:assert/strict";
import { readMemoryBudgetBytes } from "./memory_budget.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "hopd-cgroup-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path}`.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, text);
  }
  return dir;
}

Deno.test("readMemoryBudgetBytes() reads the process's cgroup limits", async (t) => {
  const cases: { name: string; files: Record<string, string>; want: number }[] = [
    {
      name: "v2: systemd MemoryMax= on the service's cgroup",
      files: {
        "proc": "0::/system.slice/hopd.service\n",
        "fs/system.slice/hopd.service/memory.max": "2147483648\n",
        "fs/system.slice/memory.max": "max\n",
      },
      want: 2 * 1024 ** 3,
    },
    {
      name: "v2: the smallest limit of the cgroups above it",
      files: {
        "proc": "0::/a/b\n",
        "fs/a/b/memory.max": "max\n",
        "fs/a/memory.max": "1073741824\n",
      },
      want: 1024 ** 3,
    },
    {
      name: "v2: no limit anywhere",
      files: { "proc": "0::/a\n", "fs/a/memory.max": "max\n" },
      want: 0,
    },
    {
      name: "v1 (hybrid host): memory.limit_in_bytes, its unlimited value is no limit",
      files: {
        "proc": "4:memory:/box\n0::/\n",
        "fs/memory/box/memory.limit_in_bytes": "536870912\n",
        "fs/memory/memory.limit_in_bytes": "9223372036854771712\n",
      },
      want: 512 * 1024 ** 2,
    },
    {
      name: "v1 unlimited",
      files: {
        "proc": "4:memory:/box\n0::/\n",
        "fs/memory/box/memory.limit_in_bytes": "9223372036854771712\n",
      },
      want: 0,
    },
    { name: "no cgroup files at all", files: { "proc": "" }, want: 0 },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const dir = await tree(c.files);
      try {
        const got = await readMemoryBudgetBytes({ procCgroup: `${dir}/proc`, root: `${dir}/fs` });
        assert.equal(got, c.want);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
  await t.step("an unreadable /proc/self/cgroup is no budget", async () => {
    assert.equal(await readMemoryBudgetBytes({ procCgroup: "/nonexistent/cgroup" }), 0);
  });
});
