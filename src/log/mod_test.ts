import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { configureLogging } from "./mod.ts";

Deno.test("configureLogging json routes console output into JSON records; pretty puts console back", () => {
  const original = console.warn;
  const lines: string[] = [];
  try {
    configureLogging({ level: "info", format: "json", write: (text) => lines.push(text) });
    console.warn("Deno.serve: a {runtime} warning", 42);
    console.debug("below the level");
    getLogger(["hopd", "test"]).info("a record");
    const records = lines.map((line) => JSON.parse(line));
    assert.deepEqual(
      records.map((r) => [r.level, r.logger, r.message]),
      [["WARN", "hopd.runtime", "Deno.serve: a {runtime} warning 42"], [
        "INFO",
        "hopd.test",
        "a record",
      ]],
    );
    configureLogging({ level: "info", format: "pretty", write: (text) => lines.push(text) });
    assert.equal(console.warn, original);
  } finally {
    console.warn = original;
  }
});

Deno.test("configureLogging pretty colours only when asked", () => {
  const lines: string[] = [];
  const write = (text: string) => void lines.push(text);
  configureLogging({ level: "info", format: "pretty", write, color: false });
  getLogger(["hopd", "test"]).info("plain {value}", { value: { n: 1 } });
  configureLogging({ level: "info", format: "pretty", write, color: true });
  getLogger(["hopd", "test"]).info("coloured {value}", { value: { n: 1 } });
  assert.ok(!lines[0]!.includes("\x1b["), lines[0]);
  assert.match(lines[0]!, / INF hopd·test: plain \{ n: 1 \}$/m);
  assert.ok(lines[1]!.includes("\x1b["), lines[1]);
});
