/**
 * The federation member (see `mod.ts`): publishes this relay's reports, validates and
 * applies the others', keeps members connected and pinged, and answers selections.
 *
 * @module
 */

import { abortAfter, type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { getLogger } from "@logtape/logtape";
import type { PubSubVerdict } from "../host/mod.ts";
import { multiaddr } from "@multiformats/multiaddr";
import {
  type Balancer,
  createBalancer,
  DEFAULT_SELECT_COUNT,
  MAX_SELECT_COUNT,
  type RankedRelay,
  RegionMap,
  type RelayEntry,
  type Selection,
} from "../balancer/mod.ts";
import {
  FORGET_AFTER_INTERVALS,
  MAX_REPORT_ADDRS,
  MEMBER_TAG,
  MEMBER_TAG_VALUE,
  RTT_PROBE_INTERVAL_MS,
  RTT_PROBE_TIMEOUT_MS,
  SCORE_HOOK_CANDIDATES,
  SCORE_HOOK_TIMEOUT_MS,
  SELECT_MAX_INBOUND_STREAMS,
  SELECT_PROTOCOL,
  VIEW_TICKS_PER_INTERVAL,
} from "./constants.ts";
import { MemberDialer } from "./member_dialer.ts";
import { type MemberRecord, MemberView } from "./member_view.ts";
import { FederationMetrics } from "./metrics.ts";
import type {
  Federation,
  FederationComponents,
  FederationMemberView,
  FederationSummary,
  FederationView,
  ResolvedFederationConfig,
  SelectRequest,
} from "./mod.ts";
import { encodeLoadReport, type LoadReport } from "./pb/load_report.ts";
import { logReportChange, reportChange } from "./report_changes.ts";
import { ReportValidator } from "./report_validator.ts";
import { applyScoreHook } from "./score_hook.ts";
import { handleSelectStream } from "./select_protocol.ts";

const log = getLogger(["hopd", "federation"]);
const CODE_P2P_CIRCUIT = 290;
/** How long the last ("leaving") report may take to go out on stop. */
const LEAVING_PUBLISH_TIMEOUT_MS = 500;

/** A federation member on a libp2p host. */
export class FederationService implements Federation {
  readonly #config: ResolvedFederationConfig;
  readonly #c: FederationComponents;
  readonly #clock: Clock;
  readonly #self: string;
  readonly #validator: ReportValidator;
  readonly #view: MemberView;
  readonly #balancer: Balancer;
  readonly #regions: RegionMap;
  readonly #dialer: MemberDialer;
  readonly #metrics: FederationMetrics;
  readonly #epoch: number;
  #seq = 0;
  #weight: number;
  #started = false;
  #timers: TimerId[] = [];
  readonly #peerIds = new Map<string, PeerId>();

  /**
   * @param config Resolved `[federation]` config.
   * @param components Host, gossipsub, registry and the local load.
   * @throws {RangeError} When a `cidr_regions` entry does not parse.
   */
  constructor(config: ResolvedFederationConfig, components: FederationComponents) {
    this.#config = config;
    this.#c = components;
    this.#clock = components.clock ?? SYSTEM_CLOCK;
    this.#self = components.libp2p.peerId.toString();
    this.#epoch = this.#clock.nowMs();
    this.#weight = config.weight;
    this.#regions = new RegionMap(config.cidrRegions);
    this.#balancer = createBalancer({ algorithm: config.algorithm });
    this.#validator = new ReportValidator({
      self: this.#self,
      members: config.members,
      maxAgeMs: config.deadAfterMs,
      clock: this.#clock,
    });
    this.#view = new MemberView({
      suspectAfterMs: config.suspectAfterMs,
      deadAfterMs: config.deadAfterMs,
      forgetAfterMs: config.intervalMs * FORGET_AFTER_INTERVALS,
      onChange: (peerId, record) => this.#sync(peerId, record),
    });
    this.#dialer = new MemberDialer({
      dial: async (peerId, addrs) => {
        try {
          await components.libp2p.dial(addrs.map((addr) => multiaddr(addr)));
          this.#metrics.memberDials.inc({ result: "ok" });
        } catch (error) {
          this.#metrics.memberDials.inc({ result: "error" });
          throw new Error(`cannot dial member ${peerId}: ${(error as Error).message}`, {
            cause: error,
          });
        }
      },
      isConnected: (peerId) => this.#connectedTo(peerId),
      clock: this.#clock,
      onDialError: (peerId, error, nextDelayMs) =>
        log.debug("Cannot reach member {peerId}: {message}; next try in {nextDelayMs} ms", {
          peerId,
          message: (error as Error)?.message,
          nextDelayMs: Math.round(nextDelayMs),
        }),
    });
    this.#metrics = new FederationMetrics(components.registry, {
      counts: () => this.summary().members,
      connectedMembers: () => this.summary().connectedMembers,
      oldestReportAgeMs: () => this.#view.oldestReportAgeMs(this.#clock.nowMs()),
    });
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { libp2p, pubsub } = this.#c;
    pubsub.subscribe(this.#config.topic, this.#validate);
    libp2p.addEventListener("peer:connect", this.#onConnect);
    libp2p.addEventListener("peer:disconnect", this.#onDisconnect);
    await libp2p.handle(SELECT_PROTOCOL, (stream, connection) => {
      void handleSelectStream(stream, connection, {
        select: (request) => this.select(request),
        admit: this.#c.selectAdmission,
        onError: (reason) => this.#metrics.selectStreamErrors.inc({ reason }),
        clock: this.#clock,
      });
    }, { maxInboundStreams: SELECT_MAX_INBOUND_STREAMS, runOnLimitedConnection: true });
    this.#dialBootstrap();
    this.#dialer.start();
    const { intervalMs } = this.#config;
    const clock = this.#clock;
    this.#timers.push(
      clock.setInterval(() => this.#publish(false), intervalMs),
      clock.setInterval(() => this.#tick(), Math.max(10, intervalMs / VIEW_TICKS_PER_INTERVAL)),
      clock.setInterval(() => this.#probeRtts(), RTT_PROBE_INTERVAL_MS),
    );
    this.#publish(false);
    log.info(
      "Federation member on topic {topic}: {members} members allowed, bootstrap {bootstrap}",
      {
        topic: this.#config.topic,
        members: this.#config.members.length,
        bootstrap: this.#config.bootstrap.length,
      },
    );
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const timer of this.#timers) this.#clock.clearInterval(timer);
    this.#timers = [];
    this.#dialer.stop();
    const { libp2p, pubsub } = this.#c;
    // Tell the members at once rather than let them wait out the dead limit.
    let timer: TimerId | undefined;
    await Promise.race([
      this.#publish(true),
      new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(resolve, LEAVING_PUBLISH_TIMEOUT_MS);
      }),
    ]);
    this.#clock.clearTimeout(timer);
    libp2p.removeEventListener("peer:connect", this.#onConnect);
    libp2p.removeEventListener("peer:disconnect", this.#onDisconnect);
    try {
      await libp2p.unhandle(SELECT_PROTOCOL);
    } catch {
      // The host may already be stopping.
    }
    try {
      pubsub.unsubscribe(this.#config.topic);
    } catch {
      // Gossipsub may already be stopped with the host.
    }
  }

  announceNow(): void {
    if (this.#started) void this.#publish(false);
  }

  setWeight(weight: number): void {
    if (!(Number.isFinite(weight) && weight >= 0 && weight <= 1_000)) {
      throw new RangeError(`Cannot set federation weight: must be in 0..1000, got ${weight}`);
    }
    if (weight === this.#weight) return;
    this.#weight = weight;
    log.info("Federation weight set to {weight}", { weight });
    this.announceNow();
  }

  weight(): number {
    return this.#weight;
  }

  summary(): FederationSummary {
    const counts = this.#view.counts();
    let connected = 0;
    for (const record of this.#view.records()) if (record.connected) connected++;
    const oldest = this.#view.oldestReportAgeMs(this.#clock.nowMs());
    return {
      enabled: true,
      members: { ...counts, alive: counts.alive + 1 },
      connectedMembers: connected,
      ...(oldest === undefined ? {} : { oldestReportAgeMs: oldest }),
    };
  }

  view(): FederationView {
    const now = this.#clock.nowMs();
    const self = this.#balancer.get(this.#self);
    const members: FederationMemberView[] = [];
    if (self !== undefined) {
      members.push(memberJson(self, { self: true, lastReportAgeMs: 0, connected: true }));
    }
    const others = this.#view.records().sort((a, b) => a.peerId < b.peerId ? -1 : 1);
    for (const record of others) {
      members.push(memberJson(this.#entryOf(record), {
        self: false,
        lastReportAgeMs: now - record.lastReportAtMs,
        connected: record.connected,
      }));
    }
    return { enabled: true, self: this.#self, topic: this.#config.topic, members };
  }

  async select(request: SelectRequest): Promise<Selection> {
    const { ip, ...hints } = request;
    if (
      ip !== undefined && hints.region === undefined && hints.lat === undefined &&
      this.#regions.size > 0
    ) {
      const region = this.#regions.lookup(ip);
      if (region !== undefined) (hints as { region?: string }).region = region;
    }
    let selection: Selection;
    const hook = this.#c.scoreHook;
    if (hook === undefined) {
      selection = this.#balancer.select(hints);
    } else {
      const n = Math.min(MAX_SELECT_COUNT, Math.max(1, hints.n ?? DEFAULT_SELECT_COUNT));
      const ranking = this.#balancer.select({ ...hints, n: Math.max(n, SCORE_HOOK_CANDIDATES) });
      const result = await applyScoreHook(ranking, {
        entryOf: (peerId) => this.#balancer.get(peerId),
        hook,
        hints,
        n,
        timeoutMs: SCORE_HOOK_TIMEOUT_MS,
        clock: this.#clock,
      });
      this.#metrics.scoreHook(result.outcome);
      selection = result.selection;
    }
    this.#metrics.selections.inc({ algorithm: selection.algorithm });
    return selection;
  }

  alternatives(peer: string, n = DEFAULT_SELECT_COUNT): RankedRelay[] {
    return this.#balancer.select({ peer, n: n + 1 }).relays
      .filter((relay) => relay.peerId !== this.#self)
      .slice(0, n);
  }

  #validate = (from: string, data: Uint8Array): PubSubVerdict => {
    this.#metrics.reportsReceived.inc();
    const check = this.#validator.check(from, data);
    if (!check.ok) {
      this.#metrics.reportsRejected.inc({ reason: check.reason });
      log.debug("Rejected a report from {from}: {reason}: {detail}", {
        from,
        reason: check.reason,
        detail: check.detail,
      });
      // Replays and stale reports may come from honest members forwarding late: not
      // forwarded, but their senders are not penalised. The rest is never honest.
      return check.reason === "replayed" || check.reason === "stale" || check.reason === "self"
        ? "ignore"
        : "reject";
    }
    const previous = this.#view.get(from)?.report;
    const before = this.#view.apply(
      { peerId: from, report: check.report, addrs: check.addrs },
      this.#clock.nowMs(),
    );
    if (before === undefined && this.#connectedTo(from)) {
      // Connected before its first report: the connect event found no record to mark.
      this.#view.setConnected(from, true);
      void this.#probeRtt(from);
    }
    if (before !== "alive" && !check.report.leaving) {
      log.info("Member {peerId} is alive", { peerId: from, before: before ?? "new" });
    } else if (check.report.leaving) {
      log.info("Member {peerId} left the federation", { peerId: from });
    }
    logReportChange(log, {
      peerId: from,
      report: check.report,
      change: reportChange(previous, check.report),
    });
    if (!sameAddrs(this.#dialer.addrsOf(from), check.addrs)) {
      this.#dialer.setAddrs(from, check.addrs);
    }
    return "accept";
  };

  #onConnect = (evt: CustomEvent<PeerId>): void => {
    const peerId = evt.detail.toString();
    if (peerId === this.#self || !this.#validator.isMember(peerId)) return;
    // Debug: members connect at start and after each loss, which is logged at INFO already.
    log.debug("Member {peerId} connected", { peerId });
    this.#view.setConnected(peerId, true);
    this.#c.libp2p.peerStore.merge(evt.detail, {
      tags: { [MEMBER_TAG]: { value: MEMBER_TAG_VALUE } },
    }).catch(() => {});
    void this.#probeRtt(peerId);
  };

  #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peerId = evt.detail.toString();
    if (peerId === this.#self || !this.#validator.isMember(peerId)) return;
    if (this.#view.setConnected(peerId, false)) {
      log.info("Member {peerId} is suspect: connection lost", { peerId });
    }
    this.#dialer.ensure(peerId);
  };

  #tick(): void {
    for (const [peerId, state] of this.#view.tick(this.#clock.nowMs())) {
      if (state === undefined) {
        log.info("Member {peerId} forgotten", { peerId });
      } else {
        log.info("Member {peerId} is {state}: no report for a while", { peerId, state });
      }
    }
  }

  /** Mirrors a member's record into the balancer. */
  #sync(peerId: string, record: MemberRecord | undefined): void {
    if (record === undefined) {
      this.#balancer.remove(peerId);
      this.#validator.forget(peerId);
      return;
    }
    this.#balancer.upsert(this.#entryOf(record));
  }

  #entryOf(record: MemberRecord): RelayEntry {
    return entryFromReport(record);
  }

  async #publish(leaving: boolean): Promise<void> {
    try {
      const report = this.#report(leaving);
      this.#balancer.upsert(
        entryFromReport({
          peerId: this.#self,
          report,
          addrs: this.#ownAddrs().map(String),
          state: "alive",
          rttMs: 0,
        }),
      );
      await this.#c.pubsub.publish(this.#config.topic, encodeLoadReport(report));
      this.#metrics.reportsSent.inc({ result: "ok" });
    } catch (error) {
      this.#metrics.reportsSent.inc({ result: "error" });
      log.debug("Cannot publish a report: {message}", { message: (error as Error).message });
    }
  }

  #report(leaving: boolean): LoadReport {
    const local = this.#c.local();
    const { region, lat, lon, intervalMs, bandwidthBytesPerSecond } = this.#config;
    return {
      epoch: this.#epoch,
      seq: ++this.#seq,
      sentAtMs: this.#clock.nowMs(),
      intervalMs,
      addrs: this.#ownAddrs().map((addr) => addr.decapsulateCode(421).bytes),
      region: region ?? "",
      ...(lat === undefined || lon === undefined ? {} : { lat, lon }),
      capacity: { ...this.#c.relayCapacity, bandwidthBytesPerSecond },
      load: {
        reservations: local.reservations,
        circuits: local.circuits,
        bytesPerSecondIn: Math.max(0, local.bytesPerSecondIn),
        bytesPerSecondOut: Math.max(0, local.bytesPerSecondOut),
        cpu: Math.max(0, Math.min(1_024, local.cpu)),
        memoryBytes: Math.max(0, local.memoryBytes),
      },
      verdict: local.verdict,
      draining: local.draining,
      weight: this.#weight,
      leaving,
    };
  }

  /** Our dialable addrs (no circuit addrs), with /p2p/. */
  #ownAddrs() {
    return this.#c.libp2p.getMultiaddrs()
      .filter((addr) => !addr.getComponents().some((c) => c.code === CODE_P2P_CIRCUIT))
      .slice(0, MAX_REPORT_ADDRS);
  }

  #dialBootstrap(): void {
    const byPeer = new Map<string, string[]>();
    for (const addr of this.#config.bootstrap) {
      const peerId = multiaddr(addr).getComponents().findLast((c) => c.name === "p2p")?.value;
      if (peerId === undefined || peerId === this.#self) continue;
      if (!this.#validator.isMember(peerId)) {
        log.warn("Bootstrap address {addr} is not a member (not in federation.members): skipped", {
          addr,
        });
        continue;
      }
      byPeer.set(peerId, [...(byPeer.get(peerId) ?? []), addr]);
    }
    for (const [peerId, addrs] of byPeer) this.#dialer.setAddrs(peerId, addrs);
  }

  #connectedTo(peerId: string): boolean {
    // By peer: libp2p indexes connections per peer (a relay holds thousands of others).
    let id = this.#peerIds.get(peerId);
    if (id === undefined) {
      id = peerIdFromString(peerId);
      this.#peerIds.set(peerId, id);
    }
    return this.#c.libp2p.getConnections(id).length > 0;
  }

  #probeRtts(): void {
    for (const record of this.#view.records()) {
      if (record.connected) void this.#probeRtt(record.peerId);
    }
  }

  async #probeRtt(peerId: string): Promise<void> {
    const ping = this.#c.ping;
    if (ping === undefined) return;
    const timeout = abortAfter(this.#clock, RTT_PROBE_TIMEOUT_MS);
    try {
      const rttMs = await ping(peerId, timeout.signal);
      this.#view.setRtt(peerId, rttMs);
    } catch {
      // An unanswered ping says nothing the reports do not: silence is aged by the view.
    } finally {
      timeout.clear();
    }
  }
}

function sameAddrs(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((addr, i) => addr === b[i]);
}

/** A member's latest report, where it is reachable and how we see it. */
interface ReportedMember {
  readonly peerId: string;
  readonly report: LoadReport;
  readonly addrs: readonly string[];
  readonly state: RelayEntry["state"];
  readonly rttMs?: number | undefined;
}

function entryFromReport(
  { peerId, report, addrs, state, rttMs }: ReportedMember,
): RelayEntry {
  return {
    peerId,
    addrs,
    state,
    verdict: report.verdict,
    draining: report.draining,
    weight: report.weight,
    ...(report.region === "" ? {} : { region: report.region }),
    ...(report.lat === undefined ? {} : { lat: report.lat, lon: report.lon }),
    capacity: report.capacity,
    load: report.load,
    ...(rttMs === undefined ? {} : { rttMs }),
  };
}

function memberJson(
  entry: RelayEntry,
  { self, lastReportAgeMs, connected }: {
    readonly self: boolean;
    readonly lastReportAgeMs: number;
    readonly connected: boolean;
  },
): FederationMemberView {
  const { capacity } = entry;
  return {
    peerId: entry.peerId,
    state: entry.state,
    self,
    lastReportAgeMs: Math.max(0, Math.round(lastReportAgeMs)),
    addrs: entry.addrs,
    ...(entry.region === undefined ? {} : { region: entry.region }),
    ...(entry.lat === undefined ? {} : { lat: entry.lat, lon: entry.lon }),
    draining: entry.draining,
    verdict: entry.verdict,
    weight: entry.weight,
    connected,
    capacity: {
      maxReservations: capacity.maxReservations,
      maxCircuits: capacity.maxCircuits,
      ...(capacity.bandwidthBytesPerSecond > 0
        ? { bandwidthBytesPerSecond: capacity.bandwidthBytesPerSecond }
        : {}),
    },
    load: { ...entry.load },
    ...(entry.rttMs === undefined ? {} : { rttMs: entry.rttMs }),
  };
}
