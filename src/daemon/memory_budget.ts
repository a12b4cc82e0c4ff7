/**
 * The memory budget of the hopd process: the smallest memory limit of its cgroup and the
 * cgroups above it (systemd's MemoryMax= sets memory.max on the service's own cgroup; a
 * container runtime sets it on the container's). Policies read it as
 * `snapshot.limits.memoryMaxBytes`, 0 when no limit is set.
 *
 * @module
 */

/** Where the cgroup files are read (tests give a directory of their own). */
export interface CgroupPaths {
  /** The process's cgroup membership. @default "/proc/self/cgroup" */
  readonly procCgroup?: string;
  /** Mount point of the cgroup hierarchies. @default "/sys/fs/cgroup" */
  readonly root?: string;
}

// cgroup v1 writes "no limit" as the largest page-aligned signed 64-bit number.
const V1_UNLIMITED_FROM = 2 ** 62;

/**
 * Reads the process's memory budget from its cgroup: v2 (`0::<path>` in /proc/self/cgroup,
 * `memory.max`) or v1 (`<n>:memory:<path>`, `memory/…/memory.limit_in_bytes`), the smallest
 * limit from the process's cgroup up to the root.
 *
 * @param paths Where to read (the real files by default).
 * @returns The budget in bytes; 0 when no limit is set or nothing can be read.
 */
export async function readMemoryBudgetBytes(paths: CgroupPaths = {}): Promise<number> {
  const root = paths.root ?? "/sys/fs/cgroup";
  let membership: string;
  try {
    membership = await Deno.readTextFile(paths.procCgroup ?? "/proc/self/cgroup");
  } catch {
    return 0;
  }
  const lines = membership.split("\n");
  const v1 = lines.map((l) => /^\d+:([^:]*):(.*)$/.exec(l))
    .find((m) => m !== null && m[1]!.split(",").includes("memory"));
  const v2 = lines.map((l) => /^0::(.*)$/.exec(l)).find((m) => m !== null);
  // v1 first: on a hybrid host the memory controller is v1's, and "0::" names no limit.
  const where = v1
    ? { dir: `${root}/memory`, file: "memory.limit_in_bytes", path: v1[2]! }
    : v2
    ? { dir: root, file: "memory.max", path: v2[1]! }
    : undefined;
  if (where === undefined) return 0;
  let smallest = 0;
  for (const cgroup of ancestors(where.path)) {
    const limit = await readLimit(`${where.dir}${cgroup}/${where.file}`);
    if (limit > 0 && (smallest === 0 || limit < smallest)) smallest = limit;
  }
  return smallest;
}

/** "/a/b" → "/a/b", "/a", "" (the hierarchy's root). */
function ancestors(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "");
  const out: string[] = [];
  for (let n = parts.length; n >= 0; n--) {
    out.push(n === 0 ? "" : `/${parts.slice(0, n).join("/")}`);
  }
  return out;
}

/** A limit file's value in bytes; 0 for "max", v1's unlimited, or a file that is absent. */
async function readLimit(file: string): Promise<number> {
  let text: string;
  try {
    text = (await Deno.readTextFile(file)).trim();
  } catch {
    return 0;
  }
  const value = Number(text);
  return Number.isFinite(value) && value > 0 && value < V1_UNLIMITED_FROM ? value : 0;
}
