// CPU hogs beside a test: `stress-ng --cpu N` (Debian package stress-ng, installed by
// scripts/test_deps.sh), for tests that must hold on a busy host.

/**
 * Runs `fn` with `workers` CPU hogs spinning beside it, and ends them afterwards whatever
 * happens. A safety timeout ends the hogs too if this process dies first.
 *
 * @param workers Busy loops, one per CPU to take.
 * @param fn The work to do while they spin.
 * @returns What `fn` returns.
 * @throws {Error} When stress-ng is not installed (pointing at scripts/test_deps.sh).
 */
export async function withCpuHogs<T>(workers: number, fn: () => Promise<T>): Promise<T> {
  let hogs: Deno.ChildProcess;
  try {
    hogs = new Deno.Command("stress-ng", {
      args: [
        "--cpu",
        String(workers),
        "--cpu-method",
        "matrixprod",
        "--timeout",
        "300s",
        "--quiet",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("stress-ng is not installed: run scripts/test_deps.sh (Debian: stress-ng)");
    }
    throw error;
  }
  try {
    return await fn();
  } finally {
    try {
      hogs.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await hogs.status;
  }
}
