// Spawns a federation of real hopd processes on loopback: one identity and one config file
// per node (every member in every allowlist), the first node started alone and used as the
// bootstrap of the others, which then find each other through the addresses in the reports.

import { createIdentity } from "../../src/identity/mod.ts";
import { type HopdProcess, spawnHopd } from "./hopd_process.ts";

/** Per-node settings of a cluster. */
export interface FederationNodeInit {
  /** Extra lines in the node's [federation] section, e.g. `weight = 2`. */
  readonly federation?: readonly string[];
  /** Extra TOML sections (with headers), e.g. `[relay]\nmax_reservations = 4`. */
  readonly extra?: string;
}

/** How a cluster is built. */
export interface FederationClusterInit {
  readonly nodes: readonly FederationNodeInit[];
  /** Report interval. @default "200ms" */
  readonly interval?: string;
  /** Peer IDs allowed besides the cluster's own (test publishers). */
  readonly extraMembers?: readonly string[];
  /** Lines added to every node's [federation] section. */
  readonly federation?: readonly string[];
  /** `federation.suspect_after` (intervals). @default 4 */
  readonly suspectAfter?: number;
  /** `federation.dead_after` (intervals). @default 6 */
  readonly deadAfter?: number;
  /**
   * `log.level` of every node: "debug" adds a member's connections and reports that change
   * its load (src/federation/report_changes.ts). @default "info"
   */
  readonly logLevel?: "debug" | "info";
}

/** A running node of a cluster. */
export interface FederationNode extends HopdProcess {
  readonly configFile: string;
  /** Its plain TCP listen address, with /p2p/. */
  readonly tcpAddr: string;
  /** PID of the hopd process itself (`deno task` runs it as a child). */
  readonly pid: number;
  /** SIGKILLs the hopd process itself (a signal to the task would orphan it). */
  killHard(): void;
}

/** A running cluster. */
export interface FederationCluster {
  readonly nodes: FederationNode[];
  /** Peer IDs of every node, in order. */
  readonly peerIds: string[];
  /** Waits until every running node sees every running node alive (or times out). */
  converged(timeoutMs?: number): Promise<boolean>;
  /** Stops every node still running. */
  stop(): Promise<void>;
}

const STATE_LINE = /^Member .* (is "?(alive|suspect|dead)\b|left the federation$|forgotten$)/;

/**
 * Whether `record` is a line of a change of a member's state (alive, suspect, dead, left,
 * forgotten), not of its drain, connection or load.
 */
export function isStateLine(record: Record<string, unknown>): boolean {
  return STATE_LINE.test(String(record.message));
}

/** What `node` last logged of member `peerId`'s state: "alive", or "gone" for any other. */
export function lastState(node: HopdProcess, peerId: string): "alive" | "gone" | undefined {
  for (let i = node.logs.length - 1; i >= 0; i--) {
    const record = node.logs[i]!;
    const message = String(record.message);
    if (!isStateLine(record)) continue;
    if ((record.properties as Record<string, unknown> | undefined)?.peerId !== peerId) continue;
    return message.endsWith(" is alive") ? "alive" : "gone";
  }
  return undefined;
}

/** GET a JSON route of a node. */
// deno-lint-ignore no-explicit-any -- route answers are checked field by field by the tests
export async function getJson(node: { opsUrl: string }, path: string): Promise<any> {
  const response = await fetch(`${node.opsUrl}${path}`);
  return await response.json();
}

/** Peer IDs a node currently selects (`/v1/select?n=32&...`). */
export async function selectedPeers(node: { opsUrl: string }, query = ""): Promise<string[]> {
  const answer = await getJson(node, `/v1/select?n=32${query === "" ? "" : `&${query}`}`);
  return (answer.relays as { peerId: string }[]).map((r) => r.peerId);
}

/**
 * Starts a cluster. Nodes 1.. bootstrap from node 0 and are started together once it is up.
 *
 * @param init The nodes and shared settings.
 * @returns The cluster.
 */
export async function startFederationCluster(
  init: FederationClusterInit,
): Promise<FederationCluster> {
  const root = await Deno.makeTempDir({ prefix: "hopd-federation-" });
  const identities = await Promise.all(
    init.nodes.map((_, i) => createIdentity(`${root}/node${i}/identity.key`)),
  );
  const peerIds = identities.map((identity) => identity.peerId);
  const members = [...peerIds, ...(init.extraMembers ?? [])];
  const nodes: FederationNode[] = [];
  const configFile = async (i: number, bootstrap: string[]) => {
    const path = `${root}/node${i}/hopd.toml`;
    const node = init.nodes[i]!;
    await Deno.writeTextFile(
      path,
      [
        "[node]",
        `identity_file = ${JSON.stringify(identities[i]!.path)}`,
        'drain_timeout = "0s"',
        "[policy]",
        "enabled = false",
        "[federation]",
        "enabled = true",
        `members = ${JSON.stringify(members)}`,
        `bootstrap = ${JSON.stringify(bootstrap)}`,
        `interval = ${JSON.stringify(init.interval ?? "200ms")}`,
        // Generous on a busy 2-core machine: a late report is not a lost member.
        `suspect_after = ${init.suspectAfter ?? 4}`,
        `dead_after = ${init.deadAfter ?? 6}`,
        ...(init.federation ?? []),
        ...(node.federation ?? []),
        node.extra ?? "",
        "",
      ].join("\n"),
    );
    return path;
  };
  const start = async (i: number, bootstrap: string[]): Promise<FederationNode> => {
    const file = await configFile(i, bootstrap);
    const process = await spawnHopd({
      args: [
        "--config",
        file,
        ...(init.logLevel === undefined ? [] : ["--log-level", init.logLevel]),
      ],
      dataDir: `${root}/node${i}`,
    });
    const tcpAddr = process.listenAddrs.find((a) => a.startsWith("/ip4/") && !a.includes("/ws"))!;
    const started = process.logs.find((r) => String(r.message).startsWith("hopd "));
    const pid = Number((started?.properties as { pid?: number } | undefined)?.pid);
    return {
      ...process,
      configFile: file,
      tcpAddr,
      pid,
      killHard: () => {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* already gone */ }
      },
    };
  };
  try {
    nodes.push(await start(0, []));
    const rest = await Promise.all(
      init.nodes.slice(1).map((_, k) => start(k + 1, [nodes[0]!.tcpAddr])),
    );
    nodes.push(...rest);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  // Registered before any caller's own wait on a node's exit, so a node a caller saw exit is
  // already out of the running ones.
  const exited = new Set<FederationNode>();
  for (const node of nodes) void node.status.then(() => exited.add(node));
  const cluster: FederationCluster = {
    nodes,
    peerIds,
    async converged(timeoutMs = 10_000) {
      // Every node logs each change of another member's state (alive, suspect, left, dead,
      // forgotten): checked again on each line a running node logs.
      const running = nodes.filter((node) => !exited.has(node));
      const seen = await Promise.all(running.map((node) =>
        node.waitForLog(
          () =>
            running.every((other) => other === node || lastState(node, other.peerId) === "alive"),
          timeoutMs,
        ).then(() => true, () => false)
      ));
      return seen.every(Boolean);
    },
    async stop() {
      await Promise.all(nodes.map(async (node) => {
        const stopped = node.stop(5_000);
        // A SIGKILL to the task would leave hopd running: make sure of the process itself.
        const timer = setTimeout(() => node.killHard(), 6_000);
        await stopped;
        clearTimeout(timer);
      }));
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
  return cluster;
}
