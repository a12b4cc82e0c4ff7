import assert from "node:assert/strict";
import { type Startable, Startables } from "./startables.ts";

function recorder() {
  const events: string[] = [];
  const part = (name: string, fail?: "start" | "stop"): Startable => ({
    name,
    start() {
      if (fail === "start") throw new Error(`${name} cannot start`);
      events.push(`start ${name}`);
    },
    async stop() {
      await Promise.resolve();
      if (fail === "stop") throw new Error(`${name} cannot stop`);
      events.push(`stop ${name}`);
    },
  });
  return { events, part };
}

Deno.test("Startables starts in list order and stops in reverse", async () => {
  const { events, part } = recorder();
  const list = new Startables([part("bans"), part("host"), part("relay")]);
  assert.deepEqual(list.names(), ["bans", "host", "relay"]);
  await list.start();
  await list.stop();
  assert.deepEqual(events, [
    "start bans",
    "start host",
    "start relay",
    "stop relay",
    "stop host",
    "stop bans",
  ]);
});

Deno.test("Startables.start() stops what started, in reverse, when one fails, and rethrows", async () => {
  const { events, part } = recorder();
  const list = new Startables([part("bans"), part("host"), part("ops", "start"), part("policy")]);
  await assert.rejects(list.start(), /ops cannot start/);
  assert.deepEqual(events, ["start bans", "start host", "stop host", "stop bans"]);
  await list.stop();
  assert.equal(events.length, 4, "nothing is stopped twice");
});

Deno.test("Startables.stop() asks every part to stop when one throws, then throws the first error", async () => {
  const { events, part } = recorder();
  const list = new Startables([part("bans"), part("host", "stop"), part("relay")]);
  await list.start();
  await assert.rejects(list.stop(), /host cannot stop/);
  assert.deepEqual(events.slice(3), ["stop relay", "stop bans"]);
});
