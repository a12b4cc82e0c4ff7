/**
 * systemd integration: `sd_notify` over `$NOTIFY_SOCKET` (READY=1 once the node serves,
 * STOPPING=1 when a stop begins, WATCHDOG=1 every half `$WATCHDOG_USEC` while the event loop
 * runs), so a `Type=notify` unit with `WatchdogSec=` knows the node's real state. Outside
 * systemd (no `$NOTIFY_SOCKET`) every call does nothing.
 *
 * @example
 * ```ts
 * import { systemdNotifier } from "./mod.ts";
 * const notifier = systemdNotifier({}); // no NOTIFY_SOCKET: a no-op notifier
 * await notifier.ready("hopd 0.1.0 serving");
 * notifier.close();
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { type Clock, SYSTEM_CLOCK, type TimerId } from "../clock/mod.ts";

const log = getLogger(["hopd", "systemd"]);
const encoder = new TextEncoder();

/** Talks to the service manager. */
export interface SystemdNotifier {
  /** Whether a notify socket is configured. */
  readonly enabled: boolean;
  /** READY=1 with a status line; starts the watchdog pings if the unit asks for them. */
  ready(status: string): Promise<void>;
  /** STOPPING=1 with a status line; stops the watchdog pings. */
  stopping(status: string): Promise<void>;
  /** STATUS=… only. */
  status(status: string): Promise<void>;
  /** Closes the notify socket and stops the watchdog pings. */
  close(): void;
}

/**
 * Creates the notifier from the environment.
 *
 * @param env The process environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
 * @param clock The watchdog pings' timer. @default SYSTEM_CLOCK
 * @returns The notifier; a no-op one when not under systemd.
 */
export function systemdNotifier(
  env: Readonly<Record<string, string | undefined>>,
  clock: Clock = SYSTEM_CLOCK,
): SystemdNotifier {
  const path = env.NOTIFY_SOCKET ?? "";
  // Abstract sockets ("@name") need Linux's leading NUL; Deno takes paths only.
  if (path === "" || path.startsWith("@")) {
    if (path !== "") {
      log.warn("NOTIFY_SOCKET {path} is abstract: not supported", { path });
    }
    return NOOP;
  }
  const watchdogUsec = Number(env.WATCHDOG_USEC ?? 0);
  const watchdogForUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === Deno.pid;
  let socket: Deno.DatagramConn | undefined;
  let timer: TimerId | undefined;

  async function send(message: string): Promise<void> {
    try {
      socket ??= Deno.listenDatagram({
        transport: "unixpacket",
        path: `${Deno.makeTempDirSync({ prefix: "hopd-notify-" })}/socket`,
      });
      await socket.send(encoder.encode(message), { transport: "unixpacket", path });
    } catch (error) {
      log.warn("sd_notify to {path} failed: {message}", {
        path,
        message: (error as Error).message,
      });
    }
  }

  return {
    enabled: true,
    async ready(status) {
      await send(`READY=1\nSTATUS=${status}\nMAINPID=${Deno.pid}`);
      if (watchdogUsec > 0 && watchdogForUs && timer === undefined) {
        // systemd's advice: ping at half the interval. A stalled event loop stops the pings.
        timer = clock.setInterval(
          () => void send("WATCHDOG=1"),
          Math.max(1, watchdogUsec / 2_000),
        );
      }
    },
    async stopping(status) {
      clock.clearInterval(timer);
      timer = undefined;
      await send(`STOPPING=1\nSTATUS=${status}`);
    },
    status: (status) => send(`STATUS=${status}`),
    close() {
      clock.clearInterval(timer);
      const addr = socket?.addr as Deno.UnixAddr | undefined;
      socket?.close();
      if (addr?.path) {
        Deno.remove(addr.path.replace(/\/socket$/, ""), { recursive: true }).catch(() => {});
      }
    },
  };
}

const NOOP: SystemdNotifier = Object.freeze({
  enabled: false,
  ready: () => Promise.resolve(),
  stopping: () => Promise.resolve(),
  status: () => Promise.resolve(),
  close: () => {},
});
