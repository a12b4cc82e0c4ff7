// Types for relay_echo_client.mjs (plain JavaScript so Node runs it unchanged).
import type { Libp2p, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";

export const ECHO_PROTOCOL: string;
export function createClient(listen?: string[]): Promise<Libp2p>;
export function waitForCircuitAddr(node: Libp2p, timeoutMs?: number): Promise<Multiaddr>;
export function serveEcho(node: Libp2p): Promise<void>;
export function echoThrough(
  stream: Stream,
  size: number,
): Promise<{ sent: number; received: number; intact: boolean }>;
export function relayEcho(relayAddr: string, size: number): Promise<{
  sent: number;
  received: number;
  intact: boolean;
  circuitAddr: string;
  elapsedMs: number;
}>;
