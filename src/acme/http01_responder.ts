/**
 * Answers http-01 challenges (RFC 8555 §8.3) on `acme.http_listen`: `GET
 * /.well-known/acme-challenge/<token>` returns the key authorization while the order that
 * set it runs; anything else is a 404. It binds at start, so a port that cannot be had
 * (another server, no CAP_NET_BIND_SERVICE for port 80) stops hopd at start, not at the
 * first renewal 60 days later.
 *
 * @module
 */

import { HTTP01_PATH_PREFIX } from "./constants.ts";

/** Tokens the CA may ask for, and their answers. */
export interface ChallengeResponder {
  /** Answers `/.well-known/acme-challenge/<token>` with `keyAuthorization` from now on. */
  set(token: string, keyAuthorization: string): void;
  /** Stops answering `token`. */
  delete(token: string): void;
}

/** The http-01 server. */
export class Http01Responder implements ChallengeResponder {
  readonly #answers = new Map<string, string>();
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;

  /** Answers `token` with `keyAuthorization` from now on. */
  set(token: string, keyAuthorization: string): void {
    this.#answers.set(token, keyAuthorization);
  }

  /** Stops answering `token`. */
  delete(token: string): void {
    this.#answers.delete(token);
  }

  /** Answers one request (the server's handler; also called directly by tests). */
  handle(request: Request): Response {
    const { pathname } = new URL(request.url);
    const token = pathname.startsWith(HTTP01_PATH_PREFIX)
      ? pathname.slice(HTTP01_PATH_PREFIX.length)
      : undefined;
    const answer = request.method === "GET" && token !== undefined
      ? this.#answers.get(token)
      : undefined;
    if (answer === undefined) return new Response("not found\n", { status: 404 });
    return new Response(answer, { headers: { "content-type": "application/octet-stream" } });
  }

  /**
   * Binds `hostname:port` and serves.
   *
   * @returns The bound port (the one asked for, or the one picked for port 0).
   * @throws {Deno.errors.AddrInUse | Deno.errors.PermissionDenied} When it cannot bind.
   */
  start(listen: { readonly hostname: string; readonly port: number }): number {
    this.#server = Deno.serve(
      { hostname: listen.hostname, port: listen.port, onListen: () => {} },
      (request) => this.handle(request),
    );
    return this.#server.addr.port;
  }

  /** Stops the server, if it runs. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}
