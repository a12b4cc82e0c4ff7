// One-shot headless chromium runs for page checks (tests/status_page_test.ts): the DOM after
// the page's scripts ran (--dump-dom), or a screenshot (--screenshot). Both use a virtual
// time budget, so timers (the page's polling) run as if that long had passed.
import { chromiumPath } from "./chromium.ts";

/** How long one chromium run may take, start to exit, on a loaded 2-core machine. */
const RUN_TIMEOUT_MS = 60_000;

/** Options of one capture. */
export interface CaptureOptions {
  /** Virtual milliseconds the page runs before the capture. */
  readonly virtualTimeBudgetMs: number;
  /** Viewport, e.g. [1280, 1600]. */
  readonly windowSize: readonly [number, number];
}

/** What a chromium run printed. */
export interface CaptureOutput {
  readonly stdout: string;
  /** Chromium's log, with the page's console messages and CSP reports. */
  readonly stderr: string;
}

async function runChromium(url: string, options: CaptureOptions, action: string[]) {
  const profileDir = await Deno.makeTempDir({ prefix: "hopd-chromium-" });
  try {
    const output = await new Deno.Command(chromiumPath(), {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        `--user-data-dir=${profileDir}`,
        `--window-size=${options.windowSize.join(",")}`,
        `--virtual-time-budget=${options.virtualTimeBudgetMs}`,
        ...action,
        url,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    }).output();
    const decoder = new TextDecoder();
    const result = { stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
    if (!output.success) {
      throw new Error(`chromium exited with ${output.code}:\n${result.stderr.slice(-4_000)}`);
    }
    return result;
  } finally {
    await Deno.remove(profileDir, { recursive: true }).catch(() => {});
  }
}

/**
 * Loads `url` and returns the serialized DOM once the virtual time budget is spent.
 *
 * @returns The DOM (stdout) and chromium's log.
 * @throws {Error} If chromium is missing, fails or runs over a minute.
 */
export function dumpDom(url: string, options: CaptureOptions): Promise<CaptureOutput> {
  return runChromium(url, options, ["--dump-dom"]);
}

/**
 * Loads `url` and writes a PNG screenshot of the viewport to `path`.
 *
 * @returns Chromium's output.
 * @throws {Error} If chromium is missing, fails, runs over a minute or writes no file.
 */
export async function screenshot(
  url: string,
  path: string,
  options: CaptureOptions,
): Promise<CaptureOutput> {
  const output = await runChromium(url, options, [`--screenshot=${path}`]);
  await Deno.stat(path).catch(() => {
    throw new Error(`chromium wrote no screenshot to ${path}:\n${output.stderr.slice(-4_000)}`);
  });
  return output;
}
