// Simulated NATs in network namespaces, for the hole-punch suite (tests/interop/holepunch.ts)
// and its own test (tests/netns_nat_test.ts). A lab is five namespaces the test makes itself:
//
//   <id>-pub  the "internet": a bridge with the relay's address (11.0.0.1) and a second
//             address for the mapping probe (11.0.0.9)
//   <id>-ra   side A's NAT router: wan 11.0.0.2 on the bridge, lan 10.0.1.1/24
//   <id>-a    side A's host 10.0.1.2, default route via its router
//   <id>-rb   side B's NAT router: wan 11.0.0.3, lan 10.0.2.1/24
//   <id>-b    side B's host 10.0.2.2
//
// A "public" side has no router: its host sits on the bridge itself (A 11.0.0.4, B 11.0.0.5).
// 11.0.0.0/24 is used because libp2p implementations only hole punch towards addresses they
// call public (10/8, 100.64/10, 192.0.2/24, 198.18/15, … are not); nothing here is routed
// outside the lab's own namespaces, which have no link to the machine's network.
//
// NAT kinds, as nft rules in the router (plus a stateful firewall: only replies come in):
//   eim        `masquerade`: Linux keeps the source port when it can, so one local port maps
//              to one public port whatever the destination (endpoint-independent mapping)
//   symmetric  `masquerade fully-random`: every new destination gets a random public port
//              (address- and port-dependent mapping), so the port a peer learns from the
//              relay is not the port it would reach
//   public     no NAT at all
//
// `lab.verify()` proves the kind with a UDP and TCP probe (tests/_helpers/nat_probe.ts)
// before any libp2p runs: the mapping is observed, never assumed.
//
// Names are `hnat-<pid>-<6 hex>-<role>`, so concurrent runs never meet; interfaces are created
// inside the lab's namespaces (never in the machine's own), so deleting the namespaces removes
// every veth, bridge, route and rule. `close()` kills what the lab spawned and deletes the
// namespaces; SIGINT/SIGTERM/SIGHUP and an uncaught error do the same before the process
// goes, and `sweepStaleLabs()` (run before every new lab) removes a crashed run's leftovers:
// only names with this prefix whose pid is no longer alive.

/** What kind of network a side's host sits behind. */
export type NatKind = "eim" | "symmetric" | "public";

/** Every NAT kind, in the order the suite reports them. */
export const NAT_KINDS: readonly NatKind[] = ["eim", "symmetric", "public"];

/** A side of the lab: one host, behind its own NAT router or on the public bridge. */
export interface LabHost {
  readonly side: "a" | "b";
  readonly kind: NatKind;
  /** Namespace the host's programs run in. */
  readonly ns: string;
  /** The host's own address. */
  readonly ip: string;
  /** The address the public network sees: the router's WAN address, or `ip` when public. */
  readonly publicIp: string;
  /** The NAT router's namespace; undefined for a public host. */
  readonly routerNs?: string;
}

/** One NAT mapping from a router's connection tracking table. */
export interface NatMapping {
  readonly protocol: "tcp" | "udp";
  /** The private endpoint (the host's address and local port). */
  readonly src: string;
  readonly sport: number;
  /** The destination. */
  readonly dst: string;
  readonly dport: number;
  /** The public endpoint the destination sees. */
  readonly mappedIp: string;
  readonly mappedPort: number;
}

/** What the probe saw for one side. */
export interface ProbeVerdict {
  readonly side: "a" | "b";
  readonly kind: NatKind;
  /** Local port the probe used, and the public port each destination saw, per protocol. */
  readonly localPort: number;
  readonly udpPorts: readonly number[];
  readonly tcpPorts: readonly number[];
  /** "independent": one public port for every destination; "dependent": one per destination. */
  readonly mapping: "independent" | "dependent";
  /** Whether an unsolicited datagram from a host never contacted was dropped. */
  readonly filtered: boolean;
}

/** Options for a command run inside a namespace. */
export interface LabCommandOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  readonly stdin?: "null" | "piped";
  readonly stdout?: "null" | "piped" | "inherit";
  readonly stderr?: "null" | "piped" | "inherit";
}

/** A running lab. */
export interface NatLab {
  /** `hnat-<pid>-<hex>`: the prefix of every namespace name. */
  readonly id: string;
  /** The "internet" namespace, where the relay runs. */
  readonly publicNs: string;
  /** The relay's address in `publicNs`. */
  readonly relayIp: string;
  readonly a: LabHost;
  readonly b: LabHost;
  /** Every namespace of the lab. */
  readonly namespaces: readonly string[];
  /** A command that runs `program args` inside namespace `ns`. */
  command(ns: string, program: string, args: string[], options?: LabCommandOptions): Deno.Command;
  /** Spawns inside `ns`; the lab kills it on close if it still runs. */
  spawn(
    ns: string,
    program: string,
    args: string[],
    options?: LabCommandOptions,
  ): Deno.ChildProcess;
  /** Runs to completion inside `ns`; rejects when it exits non-zero. */
  run(ns: string, program: string, args: string[]): Promise<string>;
  /** NAT mappings in the router of `host` (empty for a public host). */
  mappings(host: LabHost): Promise<NatMapping[]>;
  /** Forgets every NAT mapping (between attempts, so one does not help the next). */
  flushMappings(): Promise<void>;
  /** Probes both sides and throws unless each behaves as its kind says. */
  verify(): Promise<ProbeVerdict[]>;
  /** Kills what the lab spawned and deletes its namespaces; safe to call twice. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options for {@linkcode createNatLab}. */
export interface NatLabOptions {
  readonly a: NatKind;
  readonly b: NatKind;
}

const PREFIX = "hnat";
const NAME_RE = /^hnat-(\d+)-[0-9a-f]{6}-[a-z]+$/;
const RELAY_IP = "11.0.0.1";
const PROBE_IP = "11.0.0.9";
const PUBLIC_PREFIX = 24;
const SIDES = {
  a: { routerWan: "11.0.0.2", publicHost: "11.0.0.4", lan: "10.0.1" },
  b: { routerWan: "11.0.0.3", publicHost: "11.0.0.5", lan: "10.0.2" },
} as const;
const PROBE_SCRIPT = new URL("./nat_probe.ts", import.meta.url).pathname;
const PROBE_PORT = 3478;
const KILL_GRACE_MS = 2_000;
const KILL_WAIT_POLL_MS = 10;
const KILL_WAIT_POLLS = 300;

const decoder = new TextDecoder();

/** Runs `program args` in the current namespace; rejects with its stderr on failure. */
async function sh(program: string, args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(program, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `${program} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** Synchronous twin of {@linkcode sh} for the unload handler; ignores failures. */
function shSync(program: string, args: string[]): string {
  try {
    const out = new Deno.Command(program, { args, stdout: "piped", stderr: "null" }).outputSync();
    return decoder.decode(out.stdout);
  } catch {
    return "";
  }
}

/**
 * Whether this machine can build labs: root, `ip` and `nft`. The reason when it cannot.
 *
 * @returns undefined when it can, else what is missing.
 */
export async function labUnavailable(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "network namespaces need root";
  for (const tool of ["ip", "nft", "conntrack"]) {
    try {
      await new Deno.Command(tool, { args: ["-V"], stdout: "null", stderr: "null" }).output();
    } catch {
      return `'${tool}' is not installed (scripts/test_deps.sh installs it)`;
    }
  }
  return undefined;
}

/** Names of the lab namespaces that exist now. */
async function listLabNamespaces(): Promise<string[]> {
  const out = await sh("ip", ["netns", "list"]);
  return out.split("\n").map((line) => line.split(" ")[0] ?? "").filter((n) => NAME_RE.test(n));
}

/** Whether `pid` is a live process (a zombie waiting for its parent counts as gone). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Resolves once none of `pids` is alive (SIGKILL is delivered asynchronously). */
async function waitGone(pids: number[]): Promise<void> {
  // Polls /proc: the lab's processes are not all our children, so not all have an exit to await.
  for (let i = 0; i < KILL_WAIT_POLLS && pids.some(pidAlive); i++) {
    await new Promise((resolve) => setTimeout(resolve, KILL_WAIT_POLL_MS));
  }
}

/** Kills every process inside `ns` (they belong to the lab that made it) and deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  const pids = (await sh("ip", ["netns", "pids", ns]).catch(() => "")).split("\n")
    .map(Number).filter((pid) => pid > 0);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone already */ }
  }
  await waitGone(pids);
  await sh("ip", ["netns", "del", ns]).catch(() => {});
}

/**
 * Removes namespaces left by a lab whose process died without cleaning up (SIGKILL, a crash):
 * only names with this harness's prefix, and only when their pid is no longer alive.
 *
 * @returns The namespaces removed.
 */
export async function sweepStaleLabs(): Promise<string[]> {
  const stale = (await listLabNamespaces()).filter((ns) => {
    const pid = Number(NAME_RE.exec(ns)![1]);
    return pid !== Deno.pid && !pidAlive(pid);
  });
  for (const ns of stale) await removeNamespace(ns);
  return stale;
}

// Labs still open in this process, closed on a signal or at unload.
const openLabs = new Set<LabImpl>();
const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function onSignal(): void {
  Promise.allSettled([...openLabs].map((lab) => lab.close())).finally(() => Deno.exit(130));
}

function onUnload(): void {
  for (const lab of openLabs) lab.closeSync();
}

function track(lab: LabImpl): void {
  if (openLabs.size === 0) {
    for (const signal of SIGNALS) Deno.addSignalListener(signal, onSignal);
    globalThis.addEventListener("unload", onUnload);
  }
  openLabs.add(lab);
}

function untrack(lab: LabImpl): void {
  if (!openLabs.delete(lab) || openLabs.size > 0) return;
  for (const signal of SIGNALS) Deno.removeSignalListener(signal, onSignal);
  globalThis.removeEventListener("unload", onUnload);
}

/** nft rules of a NAT router: masquerade out of `wan`, only replies in. */
function routerRules(kind: "eim" | "symmetric"): string {
  const masquerade = kind === "eim" ? "masquerade" : "masquerade fully-random";
  return `table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ${masquerade}
  }
}
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }
}
`;
}

class LabImpl implements NatLab {
  readonly id: string;
  readonly publicNs: string;
  readonly relayIp = RELAY_IP;
  readonly a: LabHost;
  readonly b: LabHost;
  readonly namespaces: readonly string[];
  readonly #children = new Set<Deno.ChildProcess>();
  #closed: Promise<void> | undefined;

  constructor(id: string, options: NatLabOptions) {
    this.id = id;
    this.publicNs = `${id}-pub`;
    this.a = LabImpl.#host(id, "a", options.a);
    this.b = LabImpl.#host(id, "b", options.b);
    const namespaces = [this.publicNs];
    for (const host of [this.a, this.b]) {
      if (host.routerNs !== undefined) namespaces.push(host.routerNs);
      namespaces.push(host.ns);
    }
    this.namespaces = namespaces;
  }

  static #host(id: string, side: "a" | "b", kind: NatKind): LabHost {
    const plan = SIDES[side];
    if (kind === "public") {
      return { side, kind, ns: `${id}-${side}`, ip: plan.publicHost, publicIp: plan.publicHost };
    }
    return {
      side,
      kind,
      ns: `${id}-${side}`,
      ip: `${plan.lan}.2`,
      publicIp: plan.routerWan,
      routerNs: `${id}-r${side}`,
    };
  }

  /** Creates the namespaces, links, addresses, routes and rules. */
  async build(): Promise<void> {
    for (const ns of this.namespaces) {
      await sh("ip", ["netns", "add", ns]);
      await sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    }
    const pub = this.publicNs;
    await sh("ip", ["-n", pub, "link", "add", "br0", "type", "bridge"]);
    await sh("ip", ["-n", pub, "addr", "add", `${RELAY_IP}/${PUBLIC_PREFIX}`, "dev", "br0"]);
    await sh("ip", ["-n", pub, "addr", "add", `${PROBE_IP}/${PUBLIC_PREFIX}`, "dev", "br0"]);
    await sh("ip", ["-n", pub, "link", "set", "br0", "up"]);
    for (const host of [this.a, this.b]) await this.#buildSide(host);
  }

  async #buildSide(host: LabHost): Promise<void> {
    const pub = this.publicNs;
    const port = `p${host.side}`;
    // The device on the bridge side: the router's wan, or the public host's eth0.
    const [outerNs, outerDev, outerIp] = host.routerNs === undefined
      ? [host.ns, "eth0", host.ip]
      : [host.routerNs, "wan", host.publicIp];
    await sh("ip", [
      "link",
      "add",
      port,
      "netns",
      pub,
      "type",
      "veth",
      "peer",
      "name",
      outerDev,
      "netns",
      outerNs,
    ]);
    await sh("ip", ["-n", pub, "link", "set", port, "master", "br0", "up"]);
    await sh("ip", ["-n", outerNs, "addr", "add", `${outerIp}/${PUBLIC_PREFIX}`, "dev", outerDev]);
    await sh("ip", ["-n", outerNs, "link", "set", outerDev, "up"]);
    if (host.routerNs === undefined) return;
    const router = host.routerNs;
    const lan = SIDES[host.side].lan;
    await sh("ip", [
      "link",
      "add",
      "lan",
      "netns",
      router,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      host.ns,
    ]);
    await sh("ip", ["-n", router, "addr", "add", `${lan}.1/24`, "dev", "lan"]);
    await sh("ip", ["-n", router, "link", "set", "lan", "up"]);
    await sh("ip", ["-n", host.ns, "addr", "add", `${host.ip}/24`, "dev", "eth0"]);
    await sh("ip", ["-n", host.ns, "link", "set", "eth0", "up"]);
    await sh("ip", ["-n", host.ns, "route", "add", "default", "via", `${lan}.1`]);
    await sh("ip", ["netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    await sh("ip", ["netns", "exec", router, "nft", "-f", "-"], routerRules(host.kind as "eim"));
  }

  command(ns: string, program: string, args: string[], options: LabCommandOptions = {}) {
    return new Deno.Command("ip", {
      args: ["netns", "exec", ns, program, ...args],
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin ?? "null",
      stdout: options.stdout ?? "piped",
      stderr: options.stderr ?? "piped",
    });
  }

  spawn(ns: string, program: string, args: string[], options: LabCommandOptions = {}) {
    // `ip netns exec` execs the program, so the child's pid is the program's own.
    const child = this.command(ns, program, args, options).spawn();
    this.#children.add(child);
    child.status.finally(() => this.#children.delete(child));
    return child;
  }

  async run(ns: string, program: string, args: string[]): Promise<string> {
    return await sh("ip", ["netns", "exec", ns, program, ...args]);
  }

  async mappings(host: LabHost): Promise<NatMapping[]> {
    if (host.routerNs === undefined) return [];
    const out = await sh("ip", ["netns", "exec", host.routerNs, "conntrack", "-L"]).catch(
      (error) => {
        // conntrack -L exits 1 with "0 flow entries" on an empty table on some versions.
        if (String(error).includes("0 flow entries")) return "";
        throw error;
      },
    );
    return parseConntrack(out);
  }

  async flushMappings(): Promise<void> {
    for (const host of [this.a, this.b]) {
      if (host.routerNs === undefined) continue;
      await sh("ip", ["netns", "exec", host.routerNs, "conntrack", "-F"]).catch(() => {});
    }
  }

  async verify(): Promise<ProbeVerdict[]> {
    const server = this.spawn(this.publicNs, Deno.execPath(), [
      "run",
      "-A",
      "--unstable-net",
      PROBE_SCRIPT,
      "serve",
      "--udp",
      `${RELAY_IP}:${PROBE_PORT}`,
      "--udp",
      `${RELAY_IP}:${PROBE_PORT + 1}`,
      "--udp",
      `${PROBE_IP}:${PROBE_PORT}`,
      "--tcp",
      `${RELAY_IP}:${PROBE_PORT}`,
      "--tcp",
      `${PROBE_IP}:${PROBE_PORT}`,
      "--poke-from",
      `${PROBE_IP}:${PROBE_PORT + 2}`,
    ], { stdout: "piped", stderr: "inherit" });
    try {
      await waitForLine(server.stdout, "ready");
      const verdicts: ProbeVerdict[] = [];
      for (const host of [this.a, this.b]) verdicts.push(await this.#probe(host));
      return verdicts;
    } finally {
      try {
        server.kill("SIGKILL");
      } catch { /* exited */ }
      await server.status;
    }
  }

  async #probe(host: LabHost): Promise<ProbeVerdict> {
    const localPort = 40_000 + Math.floor(Math.random() * 10_000);
    const out = await this.run(host.ns, Deno.execPath(), [
      "run",
      "-A",
      "--unstable-net",
      PROBE_SCRIPT,
      "probe",
      "--local-port",
      String(localPort),
      "--udp",
      `${RELAY_IP}:${PROBE_PORT}`,
      "--udp",
      `${RELAY_IP}:${PROBE_PORT + 1}`,
      "--udp",
      `${PROBE_IP}:${PROBE_PORT}`,
      "--tcp",
      `${RELAY_IP}:${PROBE_PORT}`,
      "--tcp",
      `${PROBE_IP}:${PROBE_PORT}`,
    ]);
    const seen = JSON.parse(out) as {
      udp: { mapped: string }[];
      tcp: { mapped: string }[];
      poked: boolean;
    };
    const verdict = judge(host, localPort, seen);
    const expectMapping = host.kind === "symmetric" ? "dependent" : "independent";
    const problems: string[] = [];
    const ips = [...seen.udp, ...seen.tcp].map((s) => s.mapped.split(":")[0]);
    if (ips.some((ip) => ip !== host.publicIp)) {
      problems.push(`mapped addresses ${ips.join(", ")} are not ${host.publicIp}`);
    }
    if (verdict.mapping !== expectMapping) problems.push(`mapping is ${verdict.mapping}`);
    if (verdict.filtered !== (host.kind !== "public")) {
      problems.push(
        verdict.filtered ? "unsolicited traffic dropped" : "unsolicited traffic passed",
      );
    }
    if (host.kind === "public" && verdict.udpPorts.some((p) => p !== localPort)) {
      problems.push("a public host's port was translated");
    }
    if (problems.length > 0) {
      throw new Error(
        `side ${host.side} is not a ${host.kind} network: ${problems.join("; ")} ` +
          `(local port ${localPort}, udp ${verdict.udpPorts}, tcp ${verdict.tcpPorts})`,
      );
    }
    return verdict;
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    const children = [...this.#children];
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, KILL_GRACE_MS));
    await Promise.race([Promise.allSettled(children.map((c) => c.status)), grace]);
    clearTimeout(timer);
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
    await Promise.allSettled(children.map((c) => c.status));
    for (const ns of this.namespaces) await removeNamespace(ns);
    untrack(this);
  }

  /** Last-resort cleanup at unload, when nothing async can run any more. */
  closeSync(): void {
    for (const child of this.#children) {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
    for (const ns of this.namespaces) {
      for (const pid of shSync("ip", ["netns", "pids", ns]).split("\n").map(Number)) {
        if (pid > 0) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* gone */ }
        }
      }
      shSync("ip", ["netns", "del", ns]);
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Classifies what the probe saw. */
function judge(
  host: LabHost,
  localPort: number,
  seen: { udp: { mapped: string }[]; tcp: { mapped: string }[]; poked: boolean },
): ProbeVerdict {
  const port = (s: { mapped: string }) => Number(s.mapped.split(":")[1]);
  const udpPorts = seen.udp.map(port);
  const tcpPorts = seen.tcp.map(port);
  const independent = new Set(udpPorts).size === 1 && new Set(tcpPorts).size === 1;
  return {
    side: host.side,
    kind: host.kind,
    localPort,
    udpPorts,
    tcpPorts,
    mapping: independent ? "independent" : "dependent",
    filtered: !seen.poked,
  };
}

/**
 * Parses `conntrack -L` lines into NAT mappings (entries whose reply tuple differs from
 * the original one).
 *
 * @param text The output of `conntrack -L`.
 * @returns The mappings.
 */
export function parseConntrack(text: string): NatMapping[] {
  const mappings: NatMapping[] = [];
  for (const line of text.split("\n")) {
    const protocol = line.split(/\s+/)[0];
    if (protocol !== "tcp" && protocol !== "udp") continue;
    const all = (key: string) =>
      [...line.matchAll(new RegExp(`\\b${key}=(\\S+)`, "g"))].map((m) => m[1]!);
    const [src, replySrc] = all("src");
    const [dst, replyDst] = all("dst");
    const [sport, replySport] = all("sport").map(Number);
    const [dport, replyDport] = all("dport").map(Number);
    if (src === undefined || replyDst === undefined || replyDport === undefined) continue;
    if (replySrc === undefined || replySport === undefined) continue;
    mappings.push({
      protocol,
      src,
      sport: sport!,
      dst: dst!,
      dport: dport!,
      mappedIp: replyDst,
      mappedPort: replyDport,
    });
  }
  return mappings;
}

/** Resolves when `stream` yields a line equal to `wanted`; rejects if it ends first. */
async function waitForLine(stream: ReadableStream<Uint8Array>, wanted: string): Promise<void> {
  let buffer = "";
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before "${wanted}"`);
      buffer += value;
      if (buffer.split("\n").some((line) => line.trim() === wanted)) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * Builds a lab: side A behind `options.a`, side B behind `options.b`. Sweeps stale labs first.
 * Close it (or `await using`) on every path; signals and unload close it too.
 *
 * @param options The NAT kind of each side.
 * @returns The lab.
 * @throws When a command fails; whatever was built is removed first.
 */
export async function createNatLab(options: NatLabOptions): Promise<NatLab> {
  await sweepStaleLabs();
  const suffix = crypto.getRandomValues(new Uint8Array(3));
  const hex = [...suffix].map((b) => b.toString(16).padStart(2, "0")).join("");
  const lab = new LabImpl(`${PREFIX}-${Deno.pid}-${hex}`, options);
  track(lab);
  try {
    await lab.build();
  } catch (error) {
    await lab.close();
    throw error;
  }
  return lab;
}
