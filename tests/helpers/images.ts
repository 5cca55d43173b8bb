/**
 * Image files written by the tests themselves (with sharp, the decoder's own library, so nothing is
 * committed): single images of any kind, folders of coloured shapes whose class is their colour
 * only, and hand-made files (a header that promises a huge image).
 */
import { loadSharp, type SharpImage } from "../../src/data/images/sharp_decoder.ts";
import { Random } from "../../src/util/random.ts";

/** A sharp pipeline over raw pixels (height x width x channels; 1 and 2 channels are grey). */
export async function rawImage(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  pageHeight?: number,
): Promise<SharpImage> {
  const sharp = await loadSharp();
  const raw = { width, height, channels, ...(pageHeight ? { pageHeight } : {}) };
  const image = sharp(pixels, { raw });
  return channels <= 2 ? image.toColourspace("b-w") : image;
}

/** The file formats the tests write, by extension, each with lossless settings where it has them. */
export const FORMATS = {
  png: (i: SharpImage) => i.png(),
  jpg: (i: SharpImage) => i.jpeg({ quality: 95, chromaSubsampling: "4:4:4" }),
  webp: (i: SharpImage) => i.webp({ lossless: true }),
  gif: (i: SharpImage) => i.gif(),
  tif: (i: SharpImage) => i.tiff({ compression: "lzw" }),
} as const;

/** Writes `pixels` to `path` in the format its extension names. */
export async function writeImage(
  path: string,
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
): Promise<void> {
  const ext = path.slice(path.lastIndexOf(".") + 1) as keyof typeof FORMATS;
  const bytes = await FORMATS[ext](await rawImage(pixels, width, height, channels)).toBuffer();
  await Deno.writeFile(path, bytes);
}

/**
 * Three colours that libvips turns into the same grey (85): only a model that sees colour can tell
 * them apart.
 */
export const SAME_GREY_COLOURS: Readonly<Record<string, readonly [number, number, number]>> = {
  red: [158, 40, 40],
  green: [40, 96, 40],
  blue: [40, 40, 251],
};

/**
 * A folder of class folders ("blue", "green", "red"), `perClass` images each: a square of the
 * class colour at a random place and size on white, `side` pixels, the files cycling through
 * `formats`. The shapes say nothing of the class: only the colour does.
 */
export async function writeColourShapes(
  dir: string,
  perClass: number,
  seed: number,
  options: { side?: number; formats?: readonly (keyof typeof FORMATS)[] } = {},
): Promise<void> {
  const side = options.side ?? 12;
  const formats = options.formats ?? ["png", "jpg", "webp"];
  const random = new Random(seed);
  let k = 0;
  for (const [name, colour] of Object.entries(SAME_GREY_COLOURS)) {
    await Deno.mkdir(`${dir}/${name}`, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const pixels = new Uint8Array(side * side * 3).fill(255);
      const size = 3 + random.int(side - 5);
      const top = random.int(side - size + 1), left = random.int(side - size + 1);
      for (let y = top; y < top + size; y++) {
        for (let x = left; x < left + size; x++) pixels.set(colour, (y * side + x) * 3);
      }
      const ext = formats[k++ % formats.length];
      await writeImage(`${dir}/${name}/${i}.${ext}`, pixels, side, side, 3);
    }
  }
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * A PNG whose header promises a `width` x `height` grey image, with almost no pixel data: a
 * decompression bomb as far as any reader that trusts the header is concerned.
 */
export function bombPng(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([8, 0, 0, 0, 0], 8);
  // A zlib stream of a few zero bytes, far short of the promised rows.
  const idat = Uint8Array.from([0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
