/**
 * The one base class for errors a caller is meant to handle. Each subclass carries a stable
 * `code` so the CLI and the ops server can map it without parsing messages.
 *
 * @module
 */

/** Base of every hopd error a caller is meant to handle. */
export class HopdError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: string;

  /**
   * @param code Stable machine-readable code such as `"CONFIG_INVALID"`.
   * @param message Human-readable message naming what failed and why.
   * @param options The underlying cause, if any.
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Invalid or unreadable configuration (including an unreadable identity key). The CLI exits 78. */
export class ConfigError extends HopdError {
  constructor(message: string, options?: ErrorOptions) {
    super("CONFIG_INVALID", message, options);
  }
}

/** A caller's request that cannot be served as asked (bad JSON, bad field). HTTP 400. */
export class BadRequestError extends HopdError {
  constructor(message: string, options?: ErrorOptions) {
    super("BAD_REQUEST", message, options);
  }
}
