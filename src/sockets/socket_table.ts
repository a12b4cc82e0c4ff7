/**
 * The bounded table of one listener group's sockets: how many each IP, each subnet and all
 * of them together may hold, which socket goes when a bound is reached, and which have
 * outlived their phase's deadline. Pure bookkeeping: it never touches a socket; the guard
 * closes what it is told to.
 *
 * @module
 */

/** Where a socket is in its life; each phase has its own deadline. */
export type SocketPhase =
  /** Accepted, waiting for a request head (WebSocket upgrade, ops request). */
  | "header"
  /** Head received (or none needed), waiting for the libp2p handshake to finish. */
  | "handshake"
  /** Serving a request (ops): never shed, bounded by its own deadline. */
  | "active"
  /** Between two requests of a kept-alive connection (ops). */
  | "idle";

/** Why the table asks for a socket to be closed, or refuses a new one. */
export type ShedReason = "pending_ip" | "pending_subnet" | "pending_total" | "fd_reserve";

/** Bounds of one table. */
export interface SocketTableLimits {
  /** Most sockets one IP may hold in the table. */
  readonly maxPerIp: number;
  /** Most sockets one subnet may hold in the table. */
  readonly maxPerSubnet: number;
  /** Most sockets in the table. */
  readonly maxTotal: number;
}

/** One socket in the table. */
export interface TableEntry<T> {
  readonly value: T;
  readonly ip: string;
  readonly subnet: string;
  phase: SocketPhase;
  /** When the current phase ends the socket, in clock milliseconds. */
  deadlineMs: number;
}

/** The answer for a new socket. */
export type TableAdmission<T> =
  /** Admitted; `shed` were removed from the table to make room and must be closed. */
  | { readonly ok: true; readonly entry: TableEntry<T>; readonly shed?: Shed<T> }
  /** Refused: the new socket must be closed; nothing could be shed in its favour. */
  | { readonly ok: false; readonly reason: ShedReason };

/** A socket removed to make room, and why. */
export interface Shed<T> {
  readonly entry: TableEntry<T>;
  readonly reason: ShedReason;
}

/** The sockets of one group, keyed by their value (the socket itself). */
export class SocketTable<T> {
  readonly #limits: SocketTableLimits;
  readonly #entries = new Map<T, TableEntry<T>>();
  // Insertion-ordered: the first sheddable entry of a set is its oldest.
  readonly #byIp = new Map<string, Set<TableEntry<T>>>();
  readonly #bySubnet = new Map<string, Set<TableEntry<T>>>();

  constructor(limits: SocketTableLimits) {
    this.#limits = limits;
  }

  /** Sockets in the table. */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry of `value`, if it is in the table. */
  get(value: T): TableEntry<T> | undefined {
    return this.#entries.get(value);
  }

  /** Every entry, oldest first. */
  entries(): IterableIterator<TableEntry<T>> {
    return this.#entries.values();
  }

  /**
   * Admits a new socket, shedding one old one when a bound is reached: the oldest sheddable
   * socket of the same IP (per-IP bound), of the same subnet (per-subnet bound), or of the
   * subnet holding the most sockets (total bound, or `fdsFull`). A socket being served
   * (`"active"`) is never shed; when nothing can be shed the new socket is refused.
   *
   * @param init The new socket, its IP and subnet, its first phase and deadline, and
   *   whether file descriptors are short (admitting must then free one first).
   * @returns The admission, with what to close.
   */
  admit(init: {
    readonly value: T;
    readonly ip: string;
    readonly subnet: string;
    readonly phase: SocketPhase;
    readonly deadlineMs: number;
    readonly fdsFull?: boolean;
  }): TableAdmission<T> {
    let shed: Shed<T> | undefined;
    if ((this.#byIp.get(init.ip)?.size ?? 0) >= this.#limits.maxPerIp) {
      const victim = oldestSheddable(this.#byIp.get(init.ip));
      if (victim === undefined) return { ok: false, reason: "pending_ip" };
      shed = { entry: victim, reason: "pending_ip" };
    } else if ((this.#bySubnet.get(init.subnet)?.size ?? 0) >= this.#limits.maxPerSubnet) {
      const victim = oldestSheddable(this.#bySubnet.get(init.subnet));
      if (victim === undefined) return { ok: false, reason: "pending_subnet" };
      shed = { entry: victim, reason: "pending_subnet" };
    } else if (this.#entries.size >= this.#limits.maxTotal || init.fdsFull === true) {
      const reason = this.#entries.size >= this.#limits.maxTotal ? "pending_total" : "fd_reserve";
      const victim = this.#mostRepresented();
      if (victim === undefined) return { ok: false, reason };
      shed = { entry: victim, reason };
    }
    if (shed !== undefined) this.remove(shed.entry.value);
    const entry: TableEntry<T> = {
      value: init.value,
      ip: init.ip,
      subnet: init.subnet,
      phase: init.phase,
      deadlineMs: init.deadlineMs,
    };
    this.#entries.set(init.value, entry);
    addTo(this.#byIp, init.ip, entry);
    addTo(this.#bySubnet, init.subnet, entry);
    return shed === undefined ? { ok: true, entry } : { ok: true, entry, shed };
  }

  /**
   * Moves a socket to another phase with a new deadline.
   *
   * @returns False when the socket is not in the table.
   */
  setPhase(value: T, phase: SocketPhase, deadlineMs: number): boolean {
    const entry = this.#entries.get(value);
    if (entry === undefined) return false;
    entry.phase = phase;
    entry.deadlineMs = deadlineMs;
    return true;
  }

  /**
   * Removes a socket (it closed, or it is no longer bounded here).
   *
   * @returns Its entry, or undefined when it was not in the table.
   */
  remove(value: T): TableEntry<T> | undefined {
    const entry = this.#entries.get(value);
    if (entry === undefined) return undefined;
    this.#entries.delete(value);
    removeFrom(this.#byIp, entry.ip, entry);
    removeFrom(this.#bySubnet, entry.subnet, entry);
    return entry;
  }

  /**
   * Removes and returns the sockets whose deadline has passed.
   *
   * @param nowMs The clock's time.
   * @returns The expired entries (with the phase they expired in).
   */
  expire(nowMs: number): TableEntry<T>[] {
    const expired: TableEntry<T>[] = [];
    for (const entry of this.#entries.values()) {
      if (entry.deadlineMs <= nowMs) expired.push(entry);
    }
    for (const entry of expired) this.remove(entry.value);
    return expired;
  }

  // The oldest sheddable socket of the subnet holding the most sockets (ties: the subnet
  // that came first).
  #mostRepresented(): TableEntry<T> | undefined {
    let best: TableEntry<T> | undefined;
    let bestSize = 0;
    for (const set of this.#bySubnet.values()) {
      if (set.size <= bestSize) continue;
      const candidate = oldestSheddable(set);
      if (candidate === undefined) continue;
      best = candidate;
      bestSize = set.size;
    }
    return best;
  }
}

function oldestSheddable<T>(set: Set<TableEntry<T>> | undefined): TableEntry<T> | undefined {
  if (set === undefined) return undefined;
  for (const entry of set) if (entry.phase !== "active") return entry;
  return undefined;
}

function addTo<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  const set = map.get(key);
  if (set === undefined) map.set(key, new Set([value]));
  else set.add(value);
}

function removeFrom<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
