// JSON-lines plumbing shared by the bench's orchestrator and its child processes: each child
// writes one JSON object per line on stdout and reads commands the same way on stdin.

/** Yields each JSON object of a byte stream of JSON lines; other lines are skipped. */
export async function* jsonLines(
  readable: ReadableStream<Uint8Array>,
): AsyncGenerator<Record<string, unknown>> {
  let buffer = "";
  for await (const chunk of readable.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (!line.startsWith("{")) continue;
      try {
        yield JSON.parse(line) as Record<string, unknown>;
      } catch {
        // not one of ours (a library printing to stdout)
      }
    }
  }
}

/** Writes one JSON line on stdout. */
export function emit(message: Record<string, unknown>): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(message) + "\n"));
}
