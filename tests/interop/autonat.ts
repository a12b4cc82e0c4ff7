/**
 * The AutoNAT suite of `deno task interop`: why hopd serves AutoNAT v1 (`[autonat]`,
 * src/autonat/), against the stock go client in the NAT lab (tests/_helpers/netns.ts).
 *
 * A go-libp2p node that uses hopd through autorelay (`EnableAutoRelayWithStaticRelays`, the
 * go client's `--autorelay`) reserves only once its AutoNAT client has decided it is private,
 * and with hopd as the only peer it knows, hopd is the only server that can tell it:
 *
 * - behind an eim NAT with hopd's AutoNAT on (the default): hopd's dial-back does not get
 *   through the NAT, hopd answers E_DIAL_ERROR, the node turns private and reserves;
 * - the same with `autonat.enabled = false`: nothing answers and the node never reserves
 *   (the case waits a bounded time and expects no reservation);
 * - on a public address: hopd's dial-back reaches it (OK), and the node, public, has no
 *   reason to reserve.
 *
 * @module
 */

import { labUnavailable, type NatKind } from "../_helpers/netns.ts";
import { inLabWithHopd } from "../_helpers/lab_hopd.ts";
import { parseMetrics, sampleSum } from "../_helpers/ops_probe.ts";
import type { Client } from "./clients.ts";
import { type Case, type CaseOutcome, type Suite } from "./suites.ts";

/** How long a go node gets to reserve through autorelay (it takes ~6 s behind an eim NAT). */
const RESERVE_WITHIN_S = 30;
/** How long the control case waits to see that no reservation comes. */
const CONTROL_WAIT_S = 12;

interface Setting {
  readonly name: string;
  readonly kind: NatKind;
  readonly autonat: boolean;
}

const SETTINGS: readonly Setting[] = [
  { name: "nat=eim", kind: "eim", autonat: true },
  { name: "nat=eim, [autonat] off", kind: "eim", autonat: false },
  { name: "public", kind: "public", autonat: true },
];

/** Whether the go client writes its "ready" line (a reservation) before its stderr ends. */
async function readyWithin(stderr: ReadableStream<Uint8Array>): Promise<boolean> {
  let buffer = "";
  for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    if (buffer.includes('{"event":"ready"')) return true;
  }
  return false;
}

function autonatCase(go: Client, setting: Setting): Case {
  const name = `autonat go autorelay ${setting.name}`;
  return {
    name,
    run: () =>
      inLabWithHopd({
        a: setting.kind,
        b: "public",
        env: {
          // hopd logs each AutoNAT answer at debug, once counted.
          HOPD_LOG_LEVEL: "debug",
          HOPD_POLICY_ENABLED: "false",
          HOPD_AUTONAT_ENABLED: String(setting.autonat),
        },
      }, async ({ lab, hopd, relay, metrics }) => {
        const waitS = setting.kind === "eim" && setting.autonat ? RESERVE_WITHIN_S : CONTROL_WAIT_S;
        const [program, ...args] = go.command;
        const started = performance.now();
        const client = lab.spawn(lab.a.ns, program!, [
          ...args,
          "--relay",
          relay,
          "--listen",
          "--autorelay",
          // Listening, as a node that can be reached once the NAT allows it.
          "--bind",
          "/ip4/0.0.0.0/tcp/0",
          "--timeout",
          `${waitS}s`,
        ], { stdout: "null", stderr: "piped" });
        const reserved = await readyWithin(client.stderr);
        const reservedMs = performance.now() - started;
        try {
          client.kill("SIGTERM");
        } catch { /* exited */ }
        await client.status;
        const results = async () => {
          const samples = parseMetrics(await metrics());
          return {
            ok: sampleSum(samples, "hopd_autonat_requests_total", { result: "ok" }),
            dialError: sampleSum(samples, "hopd_autonat_requests_total", { result: "dial_error" }),
          };
        };
        // The public node asks soon after identify; the dial-back answers within a second.
        // hopd's line of its OK answer (logged once counted), seen already or still to come.
        const okLogged = setting.kind === "public" &&
          await hopd.waitForLog((r) =>
            String(r.message).startsWith("autonat ") &&
            (r.properties as { result?: unknown } | undefined)?.result === "ok", 10_000).then(
              () => true,
              () => false,
            );
        return judge(name, setting, {
          reserved,
          reservedMs,
          waitS,
          okLogged,
          ...await results(),
        });
      }),
  };
}

/** Whether the case went as its setting says it must. */
function judge(
  name: string,
  setting: Setting,
  seen: {
    reserved: boolean;
    reservedMs: number;
    waitS: number;
    /** hopd logged an OK answer (looked for in the public case only). */
    okLogged: boolean;
    ok: number;
    dialError: number;
  },
): CaseOutcome {
  const problems: string[] = [];
  let line: string;
  if (setting.kind === "eim" && setting.autonat) {
    if (!seen.reserved) problems.push(`no reservation within ${seen.waitS} s`);
    if (seen.dialError === 0) problems.push("hopd answered no dial-back with E_DIAL_ERROR");
    line = `reserved after ${Math.round(seen.reservedMs)} ms, hopd: ${seen.dialError} ` +
      "dial-back(s) did not get through (E_DIAL_ERROR: private)";
  } else if (setting.kind === "eim") {
    if (seen.reserved) problems.push("reserved with no AutoNAT server: autorelay changed");
    line = `no reservation in ${seen.waitS} s (nothing tells the node it is private)`;
  } else {
    if (!seen.okLogged || seen.ok === 0) {
      problems.push(
        "hopd's dial-back to a public node never succeeded (no OK answer logged in 10 s)",
      );
    }
    if (seen.reserved) problems.push("a public node reserved");
    line = `hopd's dial-back reached it (${seen.ok} OK), no reservation (public)`;
  }
  return {
    ok: problems.length === 0,
    line: `interop ${name}: ${line}`,
    detail: problems.length === 0 ? undefined : problems.join("\n"),
  };
}

/** The AutoNAT suite: the go client's autorelay against hopd's AutoNAT server. */
export const autonatSuite: Suite = {
  name: "autonat",
  // Three labs of their own, each waiting on a go node (a reservation or a bounded wait).
  jobs: 3,
  async prepare({ clients }) {
    const go = clients.get("go");
    const unavailable = await labUnavailable();
    if (unavailable !== undefined) {
      if (Deno.env.get("CI") === "true") throw new Error(`the NAT lab cannot run: ${unavailable}`);
      console.log(`interop autonat: left out, the NAT lab cannot run: ${unavailable}`);
      return { cases: [], close: () => Promise.resolve() };
    }
    const cases = go === undefined ? [] : SETTINGS.map((setting) => autonatCase(go, setting));
    return { cases, close: () => Promise.resolve() };
  },
};
