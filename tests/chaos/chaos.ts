// Chaos run of a federation (scripts/chaos_test.sh): five hopd relays on loopback, stock
// js-libp2p clients that reserved through /v1/select (affinity) and hold their
// reservations; two relays are SIGKILLed. Every client of a killed relay must re-reserve on
// a survivor through select (the client helper), and every client of a survivor must be
// undisturbed: same relay, same connection, still in the relay's reservation list.
//
//   deno run -A tests/chaos/chaos.ts [--relays 5] [--kill 2] [--clients 20] [--interval 500ms]
//
// Prints one JSON summary; exit code 1 when a check failed.

import type { Libp2p } from "@libp2p/interface";
import {
  hasReservationOn,
  keepRelayReservation,
  type RelayReservationKeeper,
  type SelectedRelay,
} from "../../src/federation/client/select_relay.ts";
import { type FederationNode, startFederationCluster } from "../_helpers/federation_cluster.ts";
import { Arrivals } from "../_helpers/ops_probe.ts";
import { reservedPeers, startSelectClient } from "../_helpers/select_client.ts";

/** How a chaos run is shaped. */
export interface ChaosOptions {
  readonly relays?: number;
  readonly kill?: number;
  readonly clients?: number;
  /** Federation report interval. @default "500ms" */
  readonly interval?: string;
  /** Time affected clients have to re-reserve. @default 20_000 */
  readonly moveTimeoutMs?: number;
}

/** What a chaos run found. */
export interface ChaosSummary {
  readonly ok: boolean;
  readonly relays: number;
  readonly clients: number;
  readonly killed: string[];
  readonly affected: number;
  readonly moved: number;
  readonly movedToSurvivors: number;
  readonly movedThroughSelect: number;
  readonly undisturbed: number;
  readonly disturbed: number;
  readonly moveMs: { readonly p50?: number; readonly max?: number };
  readonly failures: string[];
}

interface Tracked {
  readonly node: Libp2p;
  readonly keeper: RelayReservationKeeper;
  readonly reserved: SelectedRelay[];
  /** Told of each reservation the keeper makes. */
  readonly reservations: Arrivals;
  /** Closed connections to the relay it first reserved on. */
  closes: number;
  first?: SelectedRelay;
  /** When (performance.now()) it reserved on its second relay. */
  movedAt?: number;
}

function percentile(values: number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = values.toSorted((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

async function selections(node: FederationNode): Promise<number> {
  const text = await (await fetch(`${node.opsUrl}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith("hopd_balancer_selections_total{"))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

/**
 * Runs the chaos scenario once.
 *
 * @param options Sizes and timing.
 * @returns The summary (`ok` false when a check failed).
 */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosSummary> {
  const relayCount = options.relays ?? 5;
  const killCount = options.kill ?? 2;
  const clientCount = options.clients ?? 20;
  const failures: string[] = [];
  const cluster = await startFederationCluster({
    nodes: Array.from({ length: relayCount }, () => ({})),
    interval: options.interval ?? "500ms",
  });
  const tracked: Tracked[] = [];
  try {
    if (!await cluster.converged(20_000)) throw new Error("the federation did not converge");
    const urls = cluster.nodes.map((node) => node.opsUrl);
    for (let i = 0; i < clientCount; i++) {
      const node = await startSelectClient();
      const reserved: SelectedRelay[] = [];
      const reservations = new Arrivals();
      const t: Tracked = { node, keeper: undefined!, reserved, reservations, closes: 0 };
      Object.assign(t, {
        keeper: keepRelayReservation(node, {
          urls,
          algorithm: "affinity",
          onReserved: (relay) => {
            reserved.push(relay);
            if (reserved.length === 2) t.movedAt = performance.now();
            reservations.arrived();
          },
        }),
      });
      tracked.push(t);
    }
    await Promise.all(tracked.map(async (t) => {
      t.first = await t.keeper.ready;
      t.node.addEventListener("connection:close", (evt) => {
        if (evt.detail.remotePeer.toString() === t.first!.peerId) t.closes++;
      });
    }));

    // Kill the relays holding the most clients, so the run always moves someone.
    const load = new Map(cluster.nodes.map((n) => [n.peerId, 0]));
    for (const t of tracked) load.set(t.first!.peerId, load.get(t.first!.peerId)! + 1);
    const victims = cluster.nodes.toSorted((a, b) => load.get(b.peerId)! - load.get(a.peerId)!)
      .slice(0, killCount);
    const survivors = cluster.nodes.filter((n) => !victims.includes(n));
    const victimIds = new Set(victims.map((v) => v.peerId));
    const affected = tracked.filter((t) => victimIds.has(t.first!.peerId));
    const bystanders = tracked.filter((t) => !victimIds.has(t.first!.peerId));
    const selectionsBefore = (await Promise.all(survivors.map(selections)))
      .reduce((a, b) => a + b, 0);

    const killedAt = performance.now();
    for (const victim of victims) victim.killHard();
    await Promise.all(victims.map((v) => v.status));
    const moveMs: number[] = [];
    await Promise.all(affected.map(async (t) => {
      const moved = await t.reservations.until(
        () => t.reserved.length >= 2 && t.keeper.current() !== undefined,
        options.moveTimeoutMs ?? 20_000,
      );
      if (moved) moveMs.push(t.movedAt! - killedAt);
    }));

    const survivorIds = new Set(survivors.map((s) => s.peerId));
    const listings = new Map(
      await Promise.all(
        survivors.map(async (s) => [s.peerId, new Set(await reservedPeers(s.opsUrl))] as const),
      ),
    );
    let moved = 0;
    let movedToSurvivors = 0;
    for (const t of affected) {
      const now = t.keeper.current();
      if (now === undefined || t.reserved.length < 2) {
        failures.push(`${t.node.peerId} did not re-reserve`);
        continue;
      }
      moved++;
      if (
        survivorIds.has(now.peerId) && hasReservationOn(t.node, now.peerId) &&
        listings.get(now.peerId)?.has(t.node.peerId.toString())
      ) {
        movedToSurvivors++;
      } else {
        failures.push(`${t.node.peerId} moved to ${now.peerId}, not a survivor holding it`);
      }
    }
    let undisturbed = 0;
    for (const t of bystanders) {
      const same = t.keeper.current()?.peerId === t.first!.peerId && t.reserved.length === 1;
      const held = hasReservationOn(t.node, t.first!.peerId) &&
        listings.get(t.first!.peerId)?.has(t.node.peerId.toString()) === true;
      if (same && held && t.closes === 0) undisturbed++;
      else {
        failures.push(
          `survivor client ${t.node.peerId} disturbed (same relay ${same}, held ${held}, closes ${t.closes})`,
        );
      }
    }
    const selectionsAfter = (await Promise.all(survivors.map(selections)))
      .reduce((a, b) => a + b, 0);
    // Each move asked a survivor's /v1/select at least once.
    const movedThroughSelect = Math.min(moved, selectionsAfter - selectionsBefore);
    if (movedThroughSelect < moved) {
      failures.push(`only ${selectionsAfter - selectionsBefore} selections for ${moved} moves`);
    }
    if (affected.length === 0) failures.push("no client was on a killed relay");
    return {
      ok: failures.length === 0,
      relays: relayCount,
      clients: clientCount,
      killed: victims.map((v) => v.peerId),
      affected: affected.length,
      moved,
      movedToSurvivors,
      movedThroughSelect,
      undisturbed,
      disturbed: bystanders.length - undisturbed,
      moveMs: { p50: percentile(moveMs, 0.5), max: percentile(moveMs, 1) },
      failures,
    };
  } finally {
    await Promise.all(tracked.map(async (t) => {
      t.keeper.stop();
      await t.node.stop();
    }));
    await cluster.stop();
  }
}

function flag(name: string): string | undefined {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Deno.args[at + 1] : undefined;
}

if (import.meta.main) {
  const summary = await runChaos({
    relays: Number(flag("relays") ?? 5),
    kill: Number(flag("kill") ?? 2),
    clients: Number(flag("clients") ?? 20),
    interval: flag("interval") ?? "500ms",
  });
  console.log(JSON.stringify(summary, null, 2));
  // Explicit: a stopped js-libp2p node with the circuit relay transport leaves a handle that
  // keeps a script alive (deno test exits regardless; bench/load_test.ts does the same).
  Deno.exit(summary.ok ? 0 : 1);
}
