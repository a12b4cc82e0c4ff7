// A V8 CPU profile of a child started with `--inspect=127.0.0.1:<port>`, taken over one
// inspector session (the profiler belongs to the session that started it), and a summary of
// one: self time by package (or hopd file) and the heaviest functions.

/** One inspector session on a child's V8. */
export class Profiler {
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<number, (result: unknown) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.#pending.get(message.id)?.(message.result);
      this.#pending.delete(message.id);
    };
  }

  /** Opens a session on the inspector at `port` and enables the profiler (sampling every 1 ms). */
  static async open(port: number): Promise<Profiler> {
    const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve) => ws.onopen = resolve);
    const profiler = new Profiler(ws);
    await profiler.#send("Profiler.enable");
    await profiler.#send("Profiler.setSamplingInterval", { interval: 1000 });
    return profiler;
  }

  #send(method: string, params: unknown = {}): Promise<unknown> {
    const id = this.#next++;
    const reply = new Promise<unknown>((resolve) => this.#pending.set(id, resolve));
    this.#ws.send(JSON.stringify({ id, method, params }));
    return reply;
  }

  async start(): Promise<void> {
    await this.#send("Profiler.start");
  }

  /** Stops and returns the profile (Chrome's .cpuprofile format). */
  async stop(): Promise<CpuProfile> {
    const result = await this.#send("Profiler.stop") as { profile: CpuProfile };
    return result.profile;
  }

  close(): void {
    this.#ws.close();
  }
}

/** The parts of a V8 CPU profile the summary reads. */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: an npm package, a hopd file, or a V8 bucket. */
function placeOf(url: string, functionName: string): string {
  if (url === "") return `(${functionName || "native"})`;
  const npm = /node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (npm?.[1] !== undefined) return npm[1];
  const src = /\/(src\/.+|bench\/.+)$/.exec(url);
  if (src?.[1] !== undefined) return src[1];
  if (url.startsWith("node:") || url.startsWith("ext:")) return url.replace(/\/.*$/, "");
  return url;
}

/** Milliseconds of self time by place and by function, heaviest first, and the total. */
export function summarize(profile: CpuProfile, top = 25): {
  wallMs: number;
  sampledMs: number;
  idleMs: number;
  byPlace: [string, number][];
  byFunction: [string, number][];
} {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const place = new Map<string, number>();
  const fn = new Map<string, number>();
  let sampled = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const frame = byId.get(profile.samples[i]!)!.callFrame;
    sampled += ms;
    if (frame.functionName === "(idle)") {
      idle += ms;
      continue;
    }
    const where = placeOf(frame.url, frame.functionName);
    place.set(where, (place.get(where) ?? 0) + ms);
    const name = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`;
    fn.set(name, (fn.get(name) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) =>
      [k, Math.round(v)] as [string, number]
    );
  return {
    wallMs: Math.round((profile.endTime - profile.startTime) / 1000),
    sampledMs: Math.round(sampled),
    idleMs: Math.round(idle),
    byPlace: sorted(place),
    byFunction: sorted(fn),
  };
}
