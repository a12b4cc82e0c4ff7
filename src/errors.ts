/**
 * The one base class for errors a caller is meant to handle. Each subclass carries a stable
 * `code` so the CLI and the ops server can map it without parsing messages.
 *
 * @module
 */

/** Base of every hopd error a caller is meant to handle. */
export class HopdError extends Error {
  // Each class names itself: the shipped program is minified (scripts/bundle.sh), so a name
  // taken from the constructor would read "Xr".
  override name = "HopdError";
  /** Stable, machine-readable error code. */
  readonly code: string;

  /**
   * @param code Stable machine-readable code such as `"CONFIG_INVALID"`.
   * @param message Human-readable message naming what failed and why.
   * @param options The underlying cause, if any.
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Invalid or unreadable configuration (including an unreadable identity key). The CLI exits 78. */
export class ConfigError extends HopdError {
  override name = "ConfigError";
  constructor(message: string, options?: ErrorOptions) {
    super("CONFIG_INVALID", message, options);
  }
}

/**
 * A request the node took but could not complete for now, through no fault of the caller
 * (the data dir is read-only or full). HTTP 503.
 */
export class UnavailableError extends HopdError {
  override name = "UnavailableError";
  /**
   * @param code Stable code such as `"BANS_NOT_SAVED"`.
   * @param message What is in effect and what is not.
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** A caller's request that cannot be served as asked (bad JSON, bad field). HTTP 400. */
export class BadRequestError extends HopdError {
  override name = "BadRequestError";
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_REQUEST", message, options);
  }
}

/**
 * A listener could not be opened (a port in use, a permission refused). The message is one
 * line naming the address, the config key and the cause; the CLI exits 1.
 */
export class ListenError extends HopdError {
  override name = "ListenError";
  constructor(message: string, options?: ErrorOptions) {
    super("LISTEN_FAILED", message, options);
  }
}

/** What an operator can do about the system errors a listener meets. */
const CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: "address already in use (another process holds the port)",
  EACCES:
    "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE: see the low-port drop-in)",
  EADDRNOTAVAIL: "address not available (no interface of this host has it)",
};

/**
 * The cause of one failed listener, from its error text: a known system error code in
 * words, else the text without its error class and trailing address.
 */
export function listenCause(text: string): string {
  const code = /\b(E[A-Z]{3,})\b/.exec(text)?.[1];
  if (code !== undefined && CAUSES[code] !== undefined) return CAUSES[code];
  return text.replace(/^[A-Za-z]*Error: /, "").replace(/^listen E[A-Z]+: /, "");
}
