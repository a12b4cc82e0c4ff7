/**
 * Reservation vouchers: a signed envelope (libp2p RFC 0002) whose payload is the canonical
 * `ReservationVoucher { relay, peer, expiration }`, payload type `/libp2p/relay-rsvp`
 * (0x0302) and domain `libp2p-relay-rsvp`, sealed with the relay's private key.
 *
 * @module
 */

import type { PrivateKey, Record } from "@libp2p/interface";
import { RecordEnvelope } from "@libp2p/peer-record";
import { VOUCHER_DOMAIN, VOUCHER_PAYLOAD_TYPE } from "./constants.ts";
import { encodeReservationVoucher } from "./pb/circuit.ts";
import type { ReservationVoucher } from "./pb/circuit.ts";

/** The voucher as a libp2p `Record`, so the stock envelope code can seal and open it. */
export class ReservationVoucherRecord implements Record {
  readonly domain = VOUCHER_DOMAIN;
  readonly codec = VOUCHER_PAYLOAD_TYPE;
  readonly #voucher: ReservationVoucher;

  /** @param voucher Relay and peer multihash bytes, expiration in unix seconds. */
  constructor(voucher: ReservationVoucher) {
    this.#voucher = voucher;
  }

  /** The canonical protobuf payload. */
  marshal(): Uint8Array {
    return encodeReservationVoucher(this.#voucher);
  }

  /** Byte equality of the payloads. */
  equals(other: Record): boolean {
    const a = this.marshal();
    const b = other.marshal();
    return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
  }
}

/**
 * Seals a reservation voucher with the relay's key.
 *
 * @param privateKey The relay's private key.
 * @param voucher Relay and peer multihash bytes and the expiration (unix seconds).
 * @returns The marshalled envelope, the `Reservation.voucher` bytes.
 */
export async function sealVoucher(
  privateKey: PrivateKey,
  voucher: ReservationVoucher,
): Promise<Uint8Array> {
  const envelope = await RecordEnvelope.seal(new ReservationVoucherRecord(voucher), privateKey);
  return envelope.marshal();
}
