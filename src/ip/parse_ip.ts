/**
 * Allocation-free IP parsing, the one parser hopd has (the limiter's tables, the relay's
 * reservation accounting and the balancer's region map all use it). One parse fills the shared
 * {@linkcode IP_WORDS} scratch buffer; the last parsed text is remembered, so the several
 * lookups of one check (bans, deny list, allowlist, subnet key) parse an address once.
 *
 * IPv4 is one 32-bit word (`IP_WORDS[0]`); IPv6 is four big-endian 32-bit words;
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) parses as IPv4, since it is an IPv4 peer seen through
 * a dual-stack socket.
 *
 * @module
 */

/** Address family of a parsed IP: 4, 6, or 0 when the text is not an IP. */
export type IpFamily = 0 | 4 | 6;

/** The words of the last parsed address (read right after {@linkcode parseIp}). */
export const IP_WORDS: Uint32Array = new Uint32Array(4);

const HEXTETS = new Uint16Array(8);
const CHAR_DOT = 46;
const CHAR_COLON = 58;
const CHAR_0 = 48;
const CHAR_9 = 57;

// Only an uncached parse writes IP_WORDS, and it records its text here: so on a hit the
// words in IP_WORDS are still those of `lastText`.
let lastText: string | undefined;
let lastFamily: IpFamily = 0;

/**
 * Parses an IP address into {@linkcode IP_WORDS}.
 *
 * @param text IPv4 dotted quad, IPv6 text (with `::`, a dotted tail, a `%zone` or brackets).
 * @returns The family, 0 when the text is not an IP (IP_WORDS is then unspecified).
 */
export function parseIp(text: string): IpFamily {
  if (text === lastText) return lastFamily;
  const family = parseUncached(text);
  lastText = text;
  lastFamily = family;
  return family;
}

function parseUncached(text: string): IpFamily {
  if (text.indexOf(":") === -1) return parseIpv4(text, 0, text.length) ? 4 : 0;
  if (!parseIpv6(text)) return 0;
  if (IP_WORDS[0] === 0 && IP_WORDS[1] === 0 && IP_WORDS[2] === 0xffff) {
    IP_WORDS[0] = IP_WORDS[3]!;
    return 4;
  }
  return 6;
}

/**
 * Parses a dotted quad in `text[start, end)` into `IP_WORDS[0]` (written there rather than
 * returned: a uint32 above 2^31 returned from a call is a heap allocation).
 *
 * @returns False when invalid (leading zeros are invalid).
 */
function parseIpv4(text: string, start: number, end: number): boolean {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === CHAR_DOT) {
      if (digits === 0 || ++dots > 3) return false;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= CHAR_0 && c <= CHAR_9) {
      // "010" is octal to some parsers and decimal to others: refuse the ambiguity.
      if (digits > 0 && octet === 0) return false;
      octet = octet * 10 + (c - CHAR_0);
      if (octet > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  if (dots !== 3 || digits === 0) return false;
  IP_WORDS[0] = value * 256 + octet;
  return true;
}

function hexValue(c: number): number {
  if (c >= CHAR_0 && c <= CHAR_9) return c - CHAR_0;
  const lower = c | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

function parseIpv6(input: string): boolean {
  let text = input;
  if (text.charCodeAt(0) === 91 && text.charCodeAt(text.length - 1) === 93) {
    text = text.slice(1, -1);
  }
  const zone = text.indexOf("%");
  const end = zone === -1 ? text.length : zone;
  let n = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === CHAR_COLON) {
    if (text.charCodeAt(1) !== CHAR_COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let j = i;
    let value = 0;
    while (j < end && j - i < 5) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < end && text.charCodeAt(j) === CHAR_DOT) {
      if (n > 6 || !parseIpv4(text, i, end)) return false;
      HEXTETS[n++] = IP_WORDS[0]! >>> 16;
      HEXTETS[n++] = IP_WORDS[0]! & 0xffff;
      i = end;
      break;
    }
    if (j === i || j - i > 4 || n === 8) return false;
    HEXTETS[n++] = value;
    if (j === end) {
      i = j;
      break;
    }
    if (text.charCodeAt(j) !== CHAR_COLON) return false;
    if (text.charCodeAt(j + 1) === CHAR_COLON) {
      if (gap !== -1) return false;
      gap = n;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return false;
    }
  }
  if (gap === -1) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false;
    const shift = 8 - n;
    for (let k = n - 1; k >= gap; k--) HEXTETS[k + shift] = HEXTETS[k]!;
    for (let k = gap; k < gap + shift; k++) HEXTETS[k] = 0;
  }
  for (let w = 0; w < 4; w++) {
    IP_WORDS[w] = ((HEXTETS[2 * w]! << 16) | HEXTETS[2 * w + 1]!) >>> 0;
  }
  return true;
}

/**
 * The network part of a parsed address as a compact map key: for IPv4 the top `prefix` bits
 * as a number, for IPv6 a string of the masked words.
 *
 * @param family The parsed family (4 or 6); IP_WORDS must hold the address.
 * @param prefix Prefix length (0..32 or 0..128).
 * @returns The key.
 */
export function networkKey(family: 4 | 6, prefix: number): number | string {
  if (family === 4) return prefix === 0 ? 0 : IP_WORDS[0]! >>> (32 - prefix);
  let key = "6";
  for (let w = 0; w < 4 && w * 32 < prefix; w++) {
    const keep = prefix - w * 32;
    const word = keep >= 32 ? IP_WORDS[w]! : (IP_WORDS[w]! & ~(0xffffffff >>> keep)) >>> 0;
    key += ":" + word;
  }
  return key;
}

/**
 * Formats the address in IP_WORDS masked to `prefix` bits: dotted quad, or RFC 5952 IPv6
 * text (lower case, longest zero run as `::`).
 *
 * @param family 4 or 6.
 * @param prefix Bits kept; the rest are zeroed.
 * @returns The text, without the `/prefix`.
 */
export function formatMasked(family: 4 | 6, prefix: number): string {
  if (family === 4) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const v = (IP_WORDS[0]! & mask) >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let w = 0; w < 4; w++) {
    const keep = Math.max(0, Math.min(32, prefix - w * 32));
    const mask = keep === 0 ? 0 : (0xffffffff << (32 - keep)) >>> 0;
    const word = (IP_WORDS[w]! & mask) >>> 0;
    groups.push(word >>> 16, word & 0xffff);
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}
