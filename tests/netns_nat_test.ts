// The NAT lab of tests/_helpers/netns.ts: each NAT kind behaves as its name says (probed with
// UDP and TCP from inside the namespaces), and nothing is left behind on close, on SIGINT, or
// after a crash (the sweeper).
import assert, { deepStrictEqual, equal as assertEquals } from "node:assert/strict";
import {
  createNatLab,
  labUnavailable,
  parseConntrack,
  pidAlive,
  sweepStaleLabs,
} from "./_helpers/netns.ts";
import { spawnHopd } from "./_helpers/hopd_process.ts";

async function namespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0] ?? "");
}

/** A child process that builds a lab, starts `sleep` in side A and prints `<id> <sleep pid>`. */
function labChild(): { child: Deno.ChildProcess; ready: Promise<{ id: string; sleeper: number }> } {
  const harness = new URL("./_helpers/netns.ts", import.meta.url).href;
  const code = `
    import { createNatLab } from "${harness}";
    const lab = await createNatLab({ a: "eim", b: "public" });
    const sleeper = lab.spawn(lab.a.ns, "sleep", ["600"], { stdout: "null", stderr: "null" });
    console.log(lab.id, sleeper.pid);
    await new Promise(() => {});
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ready = (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("lab child exited before building its lab");
      text += value;
    }
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
    const [id, pid] = text.trim().split(" ");
    return { id: id!, sleeper: Number(pid) };
  })();
  return { child, ready };
}

const unavailable = await labUnavailable();
if (unavailable !== undefined && Deno.env.get("CI") === "true") {
  throw new Error(`the NAT lab cannot run here: ${unavailable}`);
}

Deno.test({
  name: "NAT lab: eim and symmetric routers map as named, a public host is not translated",
  ignore: unavailable !== undefined,
  fn: async () => {
    for (const [a, b] of [["eim", "symmetric"], ["public", "eim"]] as const) {
      const lab = await createNatLab({ a, b });
      try {
        const verdicts = await lab.verify();
        for (const v of verdicts) {
          const kind = v.side === "a" ? a : b;
          assertEquals(v.kind, kind);
          assertEquals(v.mapping, kind === "symmetric" ? "dependent" : "independent", `${kind}`);
          assertEquals(v.filtered, kind !== "public", `${kind} filtering`);
          if (kind === "eim" || kind === "public") {
            // Port preserved for every destination and both protocols.
            for (const port of [...v.udpPorts, ...v.tcpPorts]) assertEquals(port, v.localPort);
          } else {
            assertEquals(new Set(v.udpPorts).size, v.udpPorts.length, "a port per destination");
          }
        }
        // The router's own table agrees with what the servers saw.
        const natted = a === "public" ? lab.b : lab.a;
        const mappings = await lab.mappings(natted);
        assert(mappings.length > 0, "the router tracks the probe's mappings");
        for (const m of mappings) assertEquals(m.mappedIp, natted.publicIp);
      } finally {
        await lab.close();
      }
      const left = (await namespaces()).filter((ns) => ns.startsWith(lab.id));
      deepStrictEqual(left, [], "close() removes every namespace");
    }
  },
});

Deno.test({
  name: "NAT lab: SIGINT removes the lab and kills what it spawned",
  ignore: unavailable !== undefined,
  fn: async () => {
    const { child, ready } = labChild();
    const { id, sleeper } = await ready;
    assert((await namespaces()).some((ns) => ns.startsWith(id)), "lab exists while running");
    assert(pidAlive(sleeper));
    child.kill("SIGINT");
    const status = await child.status;
    assertEquals(status.code, 130);
    deepStrictEqual((await namespaces()).filter((ns) => ns.startsWith(id)), []);
    assert(!pidAlive(sleeper), "the lab's processes are killed");
  },
});

Deno.test({
  name: "NAT lab: the sweeper removes a killed run's lab, and leaves a live one alone",
  ignore: unavailable !== undefined,
  fn: async () => {
    const live = await createNatLab({ a: "eim", b: "eim" });
    const { child, ready } = labChild();
    try {
      const { id, sleeper } = await ready;
      child.kill("SIGKILL");
      await child.status;
      assert((await namespaces()).some((ns) => ns.startsWith(id)), "SIGKILL leaves the lab");
      const swept = await sweepStaleLabs();
      assert(swept.length > 0 && swept.every((ns) => ns.startsWith(id)), `swept ${swept}`);
      deepStrictEqual((await namespaces()).filter((ns) => ns.startsWith(id)), []);
      assert(!pidAlive(sleeper), "the dead run's processes are killed");
      const mine = (await namespaces()).filter((ns) => ns.startsWith(live.id));
      assertEquals(mine.length, live.namespaces.length, "a live lab is not swept");
    } finally {
      await live.close();
    }
  },
});

Deno.test({
  name: "hopd listening on a public address announces it (no node.announce needed)",
  ignore: unavailable !== undefined,
  fn: async () => {
    const lab = await createNatLab({ a: "public", b: "public" });
    try {
      // js-libp2p leaves a public listen address out of getMultiaddrs() until AutoNAT
      // confirms it; hopd confirms its own (src/host/own_addrs.ts).
      const hopd = await spawnHopd({
        netns: lab.publicNs,
        loopbackListeners: false,
        args: ["--listen", `/ip4/${lab.relayIp}/tcp/0`],
        env: { HOPD_POLICY_ENABLED: "false" },
      });
      try {
        assert.equal(hopd.listenAddrs.length, 1, `listening on ${hopd.listenAddrs}`);
        assert.match(hopd.listenAddrs[0]!, new RegExp(`^/ip4/${lab.relayIp}/tcp/\\d+/p2p/`));
      } finally {
        await hopd.stop();
      }
    } finally {
      await lab.close();
    }
  },
});

Deno.test("parseConntrack reads the private and the mapped endpoint of each entry", () => {
  const text = [
    "tcp      6 431999 ESTABLISHED src=10.0.1.2 dst=11.0.0.1 sport=4001 dport=36000 " +
    "src=11.0.0.1 dst=11.0.0.2 sport=36000 dport=61234 [ASSURED] mark=0 use=1",
    "udp      17 29 src=10.0.2.2 dst=11.0.0.9 sport=40000 dport=3478 [UNREPLIED] " +
    "src=11.0.0.9 dst=11.0.0.3 sport=3478 dport=40000 mark=0 use=1",
    "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.",
  ].join("\n");
  deepStrictEqual(parseConntrack(text), [
    {
      protocol: "tcp",
      src: "10.0.1.2",
      sport: 4001,
      dst: "11.0.0.1",
      dport: 36000,
      mappedIp: "11.0.0.2",
      mappedPort: 61234,
    },
    {
      protocol: "udp",
      src: "10.0.2.2",
      sport: 40000,
      dst: "11.0.0.9",
      dport: 3478,
      mappedIp: "11.0.0.3",
      mappedPort: 40000,
    },
  ]);
});
