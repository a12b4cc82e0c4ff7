// A NAT lab (./netns.ts) with the real hopd in its public namespace: what the hole-punch and
// AutoNAT suites (tests/interop/) and bench/autonat_cost.ts run in.
import { createNatLab, type NatKind, type NatLab } from "./netns.ts";
import { type HopdProcess, spawnHopd } from "./hopd_process.ts";

/** A lab whose NAT kinds are proven, with hopd listening on the relay address. */
export interface LabWithHopd {
  readonly lab: NatLab;
  readonly hopd: HopdProcess;
  /** hopd's TCP address with /p2p/<id>, as the lab's hosts reach it. */
  readonly relay: string;
  readonly relayPort: number;
  /** hopd's /metrics, read from inside the lab. */
  metrics(): Promise<string>;
}

/** Options for {@linkcode inLabWithHopd}. */
export interface LabWithHopdOptions {
  /** What side A (the listener in the suites) and side B sit behind. */
  readonly a: NatKind;
  readonly b: NatKind;
  /** hopd's environment (HOPD_* config). */
  readonly env: Record<string, string>;
}

/**
 * Builds a lab, proves its NAT kinds, starts hopd in it, runs `fn`, and removes hopd and the
 * lab on every path.
 *
 * @returns What `fn` returns.
 */
export async function inLabWithHopd<T>(
  options: LabWithHopdOptions,
  fn: (ctx: LabWithHopd) => Promise<T>,
): Promise<T> {
  const lab = await createNatLab({ a: options.a, b: options.b });
  try {
    await lab.verify();
    const hopd = await spawnHopd({
      netns: lab.publicNs,
      loopbackListeners: false,
      args: ["--listen", `/ip4/${lab.relayIp}/tcp/0`],
      env: options.env,
    });
    try {
      const relay = hopd.listenAddrs.find((a) => a.startsWith(`/ip4/${lab.relayIp}/tcp/`));
      if (relay === undefined) throw new Error(`hopd announces ${hopd.listenAddrs}`);
      return await fn({
        lab,
        hopd,
        relay,
        relayPort: Number(relay.split("/")[4]),
        metrics: () => lab.run(lab.publicNs, "curl", ["-sf", `${hopd.opsUrl}/metrics`]),
      });
    } finally {
      await hopd.stop();
    }
  } finally {
    await lab.close();
  }
}
