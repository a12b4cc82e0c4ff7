// Speaking to a child's V8 inspector (`--inspect=127.0.0.1:<port>`): one command at a time,
// and heap snapshots.

/** A free loopback port from the kernel (released just before the child takes it). */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  return port;
}

async function session(port: number): Promise<WebSocket> {
  const [target] = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve) => ws.onopen = resolve);
  return ws;
}

/** Sends one inspector command and resolves with its result. */
export async function inspect(
  port: number,
  method: string,
  params: unknown = {},
): Promise<unknown> {
  const ws = await session(port);
  const reply = new Promise<unknown>((resolve) => {
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id === 1) resolve(message.result);
    };
  });
  ws.send(JSON.stringify({ id: 1, method, params }));
  const result = await reply;
  ws.close();
  return result;
}

/** Forces a full GC, then takes a heap snapshot and resolves with its JSON text. */
export async function heapSnapshot(port: number): Promise<string> {
  const ws = await session(port);
  const chunks: string[] = [];
  const done = new Promise<void>((resolve) => {
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(message.params.chunk);
      if (message.id === 2) resolve();
    };
  });
  ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
  ws.send(JSON.stringify({ id: 2, method: "HeapProfiler.takeHeapSnapshot", params: {} }));
  await done;
  ws.close();
  return chunks.join("");
}
