import assert from "node:assert/strict";
import { systemdNotifier } from "./mod.ts";

const decoder = new TextDecoder();

/** A fake service manager: a unixpacket socket collecting what the notifier sends. */
async function fakeManager() {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/notify`;
  const socket = Deno.listenDatagram({ transport: "unixpacket", path });
  const messages: string[] = [];
  const pump = (async () => {
    try {
      for await (const [data] of socket) messages.push(decoder.decode(data));
    } catch {
      // closed
    }
  })();
  return {
    path,
    messages,
    async until(count: number) {
      const deadline = Date.now() + 5_000;
      while (messages.length < count && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      socket.close();
      await pump;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("systemdNotifier() without NOTIFY_SOCKET does nothing", async () => {
  const notifier = systemdNotifier({});
  assert.equal(notifier.enabled, false);
  await notifier.ready("x");
  await notifier.stopping("y");
  notifier.close();
});

Deno.test("systemdNotifier() sends READY=1, watchdog pings at half WATCHDOG_USEC, then STOPPING=1", async () => {
  const manager = await fakeManager();
  const notifier = systemdNotifier({ NOTIFY_SOCKET: manager.path, WATCHDOG_USEC: "100000" });
  try {
    await notifier.ready("serving");
    await manager.until(3);
    assert.match(manager.messages[0]!, /^READY=1\nSTATUS=serving\nMAINPID=\d+$/);
    assert.ok(manager.messages.slice(1).every((m) => m === "WATCHDOG=1"));
    await notifier.stopping("draining");
    const deadline = Date.now() + 5_000;
    while (!manager.messages.includes("STOPPING=1\nSTATUS=draining") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(manager.messages.at(-1), "STOPPING=1\nSTATUS=draining");
    const count = manager.messages.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(manager.messages.length, count, "watchdog pings must stop after STOPPING=1");
  } finally {
    notifier.close();
    await manager.close();
  }
});

Deno.test("systemdNotifier() skips watchdog pings meant for another process", async () => {
  const manager = await fakeManager();
  const notifier = systemdNotifier({
    NOTIFY_SOCKET: manager.path,
    WATCHDOG_USEC: "50000",
    WATCHDOG_PID: String(Deno.pid + 1),
  });
  try {
    await notifier.ready("serving");
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.equal(manager.messages.length, 1);
  } finally {
    notifier.close();
    await manager.close();
  }
});
