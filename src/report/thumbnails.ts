/**
 * The report's figure 4, for runs on image files: small pictures of test images placed where their
 * embeddings fall on the map of figure 3, so a reader sees what each region holds. One picture per
 * cell of a grid over the map (the point nearest the cell's centre), so they do not overlap: at
 * most {@link MAX_THUMBNAILS}, each at most {@link THUMBNAIL_SIDE} pixels on a side, stored in the
 * page as uncompressed PNG data (the page stays one self-contained file; these add at most about
 * 450 KB). Encoded here, in plain TypeScript, so the same run always gives the same bytes.
 */
import { colourIndex, type Frame } from "./chart.ts";
import type { EmbeddingImages } from "./data.ts";
import { esc, px } from "./format.ts";

/** The most pictures figure 4 shows (a 10 x 10 grid). */
export const MAX_THUMBNAILS = 100;

/** The longest side of a picture, in pixels (larger images are averaged down). */
export const THUMBNAIL_SIDE = 32;

const GRID = Math.round(Math.sqrt(MAX_THUMBNAILS));

/** CRC-32 (PNG's, of zlib) of `bytes`. */
function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i];
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return crc;
}

/**
 * A PNG of `pixels` (height x width x channels, 8-bit, channels 1 or 3) with its image data stored
 * in uncompressed deflate blocks: valid everywhere, and simple enough to write exactly.
 */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Uint8Array {
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1)); // each row starts with filter 0
  for (let y = 0; y < height; y++) {
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const zlib = new Uint8Array(2 + raw.length + blocks * 5 + 4);
  zlib.set([0x78, 0x01]);
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const part = raw.subarray(b * 65535, Math.min((b + 1) * 65535, raw.length));
    zlib[at] = b === blocks - 1 ? 1 : 0;
    zlib[at + 1] = part.length & 0xff;
    zlib[at + 2] = part.length >>> 8;
    zlib[at + 3] = ~part.length & 0xff;
    zlib[at + 4] = (~part.length >>> 8) & 0xff;
    zlib.set(part, at + 5);
    at += 5 + part.length;
  }
  let a = 1, s = 0; // Adler-32
  for (const v of raw) {
    a = (a + v) % 65521;
    s = (s + a) % 65521;
  }
  new DataView(zlib.buffer).setUint32(at, ((s << 16) | a) >>> 0);
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, (crc32(out.subarray(4, 8 + data.length)) ^ 0xffffffff) >>> 0);
    return out;
  };
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header.set([8, channels === 1 ? 0 : 2, 0, 0, 0], 8);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlib),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    png.set(p, offset);
    offset += p.length;
  }
  return png;
}

/**
 * `image` (height x width x channels) brought down to at most {@link THUMBNAIL_SIDE} on its longer
 * side, each output pixel the mean of the input pixels it covers.
 */
export function shrinkImage(
  image: Uint8Array,
  shape: readonly [number, number, number],
): { pixels: Uint8Array; width: number; height: number } {
  const [h, w, c] = shape;
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(h, w));
  if (scale === 1) return { pixels: image, width: w, height: h };
  const oh = Math.max(1, Math.round(h * scale)), ow = Math.max(1, Math.round(w * scale));
  const out = new Uint8Array(oh * ow * c);
  for (let y = 0; y < oh; y++) {
    const y0 = Math.floor((y * h) / oh), y1 = Math.max(y0 + 1, Math.floor(((y + 1) * h) / oh));
    for (let x = 0; x < ow; x++) {
      const x0 = Math.floor((x * w) / ow), x1 = Math.max(x0 + 1, Math.floor(((x + 1) * w) / ow));
      for (let k = 0; k < c; k++) {
        let sum = 0;
        for (let yy = y0; yy < y1; yy++) {
          for (let xx = x0; xx < x1; xx++) sum += image[(yy * w + xx) * c + k];
        }
        out[(y * ow + x) * c + k] = Math.round(sum / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return { pixels: out, width: ow, height: oh };
}

/**
 * Which drawn points get a picture: for each cell of a {@link GRID} x {@link GRID} grid over the
 * frame, the point nearest its centre (cells without points get none). `at` gives a point's
 * position on the page.
 */
export function choosePictured(
  count: number,
  at: (i: number) => [number, number],
  f: Frame,
): number[] {
  const best = new Map<number, { i: number; d: number }>();
  const cw = f.width / GRID, ch = f.height / GRID;
  for (let i = 0; i < count; i++) {
    const [x, y] = at(i);
    const cx = Math.min(GRID - 1, Math.max(0, Math.floor((x - f.left) / cw)));
    const cy = Math.min(GRID - 1, Math.max(0, Math.floor((y - f.top) / ch)));
    const dx = x - (f.left + (cx + 0.5) * cw), dy = y - (f.top + (cy + 0.5) * ch);
    const d = dx * dx + dy * dy, cell = cy * GRID + cx;
    const held = best.get(cell);
    if (held === undefined || d < held.d) best.set(cell, { i, d });
  }
  return [...best.keys()].sort((a, b) => a - b).map((cell) => best.get(cell)!.i);
}

/**
 * The SVG of the pictures of `rows` (test rows) at their positions, each framed in its class
 * colour, with its class (and id, when known) on hover.
 */
export function drawThumbnails(
  images: EmbeddingImages,
  picks: { row: number; x: number; y: number; label: number; name: string }[],
  f: Frame,
): string {
  const cell = Math.min(f.width, f.height) / GRID;
  const side = Math.floor(cell - 6);
  let out = "";
  for (const p of picks) {
    const { pixels, width, height } = shrinkImage(images.pixels(p.row), images.shape);
    const png = encodePng(pixels, width, height, images.shape[2] === 1 ? 1 : 3);
    const scale = side / Math.max(width, height);
    const w = width * scale, h = height * scale;
    const id = images.ids?.[p.row];
    const title = id === undefined ? p.name : `${p.name}: ${id}`;
    out += `<g><title>${esc(title)}</title><rect class="k${colourIndex(p.label)}" x="${
      px(p.x - w / 2 - 2)
    }" y="${px(p.y - h / 2 - 2)}" width="${px(w + 4)}" height="${px(h + 4)}"/><image x="${
      px(p.x - w / 2)
    }" y="${px(p.y - h / 2)}" width="${px(w)}" height="${
      px(h)
    }" style="image-rendering:pixelated" href="data:image/png;base64,${base64(png)}"/></g>`;
  }
  return out;
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
