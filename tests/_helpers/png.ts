// A minimal PNG reader for screenshot checks: header, then the pixels of 8-bit RGB or RGBA
// non-interlaced images (what headless chromium writes), so a test can tell a rendered
// page from a blank one.
import { inflateSync } from "node:zlib";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A decoded PNG. */
export interface Png {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: number;
  /** Bytes per pixel (3 for RGB, 4 for RGBA). */
  readonly channels: number;
  /** Unfiltered pixel rows, `width * channels` bytes each, top to bottom. */
  readonly pixels: Uint8Array;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a PNG file.
 *
 * @param bytes The file.
 * @returns Its header and pixels.
 * @throws {Error} On a bad signature or chunk, or an unsupported format (only 8-bit RGB/RGBA,
 *   not interlaced).
 */
export function decodePng(bytes: Uint8Array): Png {
  if (!SIGNATURE.every((b, i) => bytes[i] === b)) throw new Error("not a PNG: bad signature");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  let header: { width: number; height: number; bitDepth: number; colorType: number } | undefined;
  const data: Uint8Array[] = [];
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const type = new TextDecoder().decode(bytes.subarray(offset + 4, offset + 8));
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    if (body.length !== length) throw new Error(`truncated ${type} chunk`);
    if (type === "IHDR") {
      const interlace = body[12];
      header = {
        width: view.getUint32(offset + 8),
        height: view.getUint32(offset + 12),
        bitDepth: body[8]!,
        colorType: body[9]!,
      };
      if (interlace !== 0) throw new Error("interlaced PNGs are not supported");
    } else if (type === "IDAT") {
      data.push(body);
    } else if (type === "IEND") {
      break;
    }
    offset += 12 + length;
  }
  if (header === undefined) throw new Error("not a PNG: no IHDR chunk");
  const channels = header.colorType === 6 ? 4 : header.colorType === 2 ? 3 : 0;
  if (header.bitDepth !== 8 || channels === 0) {
    throw new Error(
      `unsupported PNG: bit depth ${header.bitDepth}, color type ${header.colorType}`,
    );
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = header.width * channels;
  const pixels = new Uint8Array(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[out + x - channels]! : 0;
      const b = y > 0 ? pixels[out - stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[out - stride + x - channels]! : 0;
      const value = line[x]!;
      pixels[out + x] = filter === 0
        ? value
        : filter === 1
        ? value + a
        : filter === 2
        ? value + b
        : filter === 3
        ? value + ((a + b) >> 1)
        : value + paeth(a, b, c);
    }
  }
  return { ...header, channels, pixels };
}

/**
 * How much of an image is not its background.
 *
 * @param png A decoded PNG.
 * @returns The number of distinct colours (RGB) and the share of pixels that differ from
 *   the most common colour.
 */
export function pixelStats(png: Png): { colors: number; foregroundShare: number } {
  const counts = new Map<number, number>();
  const { pixels, channels } = png;
  for (let i = 0; i < pixels.length; i += channels) {
    const rgb = (pixels[i]! << 16) | (pixels[i + 1]! << 8) | pixels[i + 2]!;
    counts.set(rgb, (counts.get(rgb) ?? 0) + 1);
  }
  const total = pixels.length / channels;
  const background = Math.max(...counts.values());
  return { colors: counts.size, foregroundShare: (total - background) / total };
}
