/**
 * The decode cache: what decoding a folder of images found (each file's size, header and pixels, or
 * why it could not be read), kept in one file per folder and image settings so that later runs,
 * resumes and `embed` read pixels instead of decoding again. A file is known by its path, size and
 * modification time: a changed, added or removed file is decoded (or dropped) on the next run and
 * the rest is reused. The settings, the decoder's version and the folder's real path pick the
 * file, so other settings never see these pixels.
 *
 * Where: `$XDG_CACHE_HOME/magnet/images`, or `~/.cache/magnet/images` (`--cache DIR` moves it). A
 * cache file that cannot be read is ignored, and one that cannot be written is a warning: the
 * cache saves time, never changes results.
 */
import type { ImageFile } from "./folder.ts";
import { type ImageFormat, type ImageOptions, RESIZE_MODES } from "./settings.ts";

const MAGIC = "magnet-image-cache 2\n";

/** What the cache knows of one file. */
export interface CachedImage {
  /** Header size after orientation (0 when it was never read). */
  readonly width: number;
  readonly height: number;
  /** Whether it is stored in colour (null when its header was never read). */
  readonly colour: boolean | null;
  /** Its row of pixels in the cache's pixels at the cache's format, or -1. */
  readonly row: number;
  /** Why it cannot be decoded, or null. */
  readonly bad: string | null;
}

/** A cache file's contents. */
export interface ImageCache {
  /** The format the pixels are in (null when there are none). */
  readonly format: ImageFormat | null;
  /** By {@link fileKey}. */
  readonly images: ReadonlyMap<string, CachedImage>;
  /** Rows of `format`'s size, one after another. */
  readonly pixels: Uint8Array;
}

/** The key of a file in the cache: its relative path, size and modification time. */
export function fileKey(file: ImageFile): string {
  return `${file.size}:${file.mtime}:${file.relative}`;
}

/** The default cache folder. */
export function defaultCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  const base = xdg ? xdg : home ? `${home}/.cache` : `${Deno.cwd()}/.cache`;
  return `${base}/magnet/images`;
}

/** The cache file of the images of `root` decoded with `options` by `decoder`. */
export async function cacheFile(
  dir: string,
  root: string,
  options: ImageOptions,
  decoder: string,
): Promise<string> {
  const key = JSON.stringify([MAGIC, await Deno.realPath(root), options, decoder]);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  const name = Array.from(hash.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
  const folder = root.replace(/\/+$/, "").split("/").pop() || "root";
  return `${dir}/${folder.replace(/[^\w.-]/g, "_").slice(0, 40)}-${name}.bin`;
}

/** The whole file at `path`, read into one buffer of its size (several times faster than growing one). */
async function readWhole(path: string): Promise<Uint8Array> {
  const file = await Deno.open(path);
  try {
    const bytes = new Uint8Array((await file.stat()).size);
    for (let done = 0; done < bytes.length;) {
      const n = await file.read(bytes.subarray(done));
      if (n === null) return bytes.subarray(0, done);
      done += n;
    }
    return bytes;
  } finally {
    file.close();
  }
}

/** A cache file's header as {@link writeCache} writes it: columns, one entry per file. */
interface CacheHeader {
  format: ImageFormat | null;
  keys: string[];
  width: number[];
  height: number[];
  colour: number[];
  row: number[];
  bad: Record<string, string>;
}

/**
 * `value` as a cache header, every field and value checked (null when any is not what
 * {@link writeCache} writes: the cache is then damaged, and decoding starts over rather than
 * trusting a size, a colour or a row it holds).
 */
function readHeader(value: unknown): CacheHeader | null {
  const h = value as Partial<Record<keyof CacheHeader, unknown>> | null;
  if (typeof h !== "object" || h === null || !Array.isArray(h.keys)) return null;
  const n = h.keys.length;
  const keys = h.keys as unknown[];
  if (!keys.every((k) => typeof k === "string") || new Set(keys).size !== n) return null;
  const integers = (list: unknown, min: number, max = Number.MAX_SAFE_INTEGER) =>
    Array.isArray(list) && list.length === n &&
    list.every((x) => Number.isInteger(x) && x >= min && x <= max);
  if (
    !integers(h.width, 0) || !integers(h.height, 0) || !integers(h.colour, -1, 1) ||
    !integers(h.row, -1)
  ) {
    return null;
  }
  const bad = h.bad as Record<string, unknown> | null;
  if (
    typeof bad !== "object" || bad === null || Array.isArray(bad) ||
    !Object.entries(bad).every(([i, why]) =>
      /^\d+$/.test(i) && Number(i) < n && typeof why === "string"
    )
  ) {
    return null;
  }
  const f = h.format as Partial<Record<keyof ImageFormat, unknown>> | null;
  if (
    f !== null &&
    (typeof f !== "object" || !Number.isInteger(f.width) || (f.width as number) < 1 ||
      !Number.isInteger(f.height) || (f.height as number) < 1 ||
      (f.channels !== 1 && f.channels !== 3) ||
      !(RESIZE_MODES as readonly unknown[]).includes(f.resize))
  ) {
    return null;
  }
  return h as CacheHeader;
}

/**
 * The cache in `path`, or null when there is none, or it cannot be read, or any of it is damaged
 * (see {@link readHeader}).
 */
export async function readCache(path: string): Promise<ImageCache | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readWhole(path);
  } catch {
    return null;
  }
  try {
    const magic = new TextEncoder().encode(MAGIC);
    if (bytes.length < magic.length + 4 || magic.some((b, i) => bytes[i] !== b)) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const length = view.getUint32(magic.length, true);
    const start = magic.length + 4;
    const header = readHeader(
      JSON.parse(new TextDecoder().decode(bytes.subarray(start, start + length))),
    );
    if (header === null) return null;
    const { format, keys, width, height, colour, row, bad } = header;
    const pixels = bytes.subarray(start + length);
    const rowBytes = format === null ? 0 : format.width * format.height * format.channels;
    const images = new Map<string, CachedImage>();
    for (let i = 0; i < keys.length; i++) {
      if (row[i] >= 0 && (format === null || (row[i] + 1) * rowBytes > pixels.length)) return null;
      images.set(keys[i], {
        width: width[i],
        height: height[i],
        colour: colour[i] < 0 ? null : colour[i] === 1,
        row: row[i],
        bad: bad[i] ?? null,
      });
    }
    return { format, images, pixels };
  } catch {
    return null; // damaged: decode again
  }
}

/**
 * Writes `cache` to `path` (atomically: a temporary file renamed over it); returns null, or why it
 * could not be written.
 */
export async function writeCache(path: string, cache: ImageCache): Promise<string | null> {
  const entries = [...cache.images];
  const bad: Record<string, string> = {};
  entries.forEach(([, c], i) => {
    if (c.bad !== null) bad[i] = c.bad;
  });
  const header = new TextEncoder().encode(JSON.stringify({
    format: cache.format,
    keys: entries.map(([key]) => key),
    width: entries.map(([, c]) => c.width),
    height: entries.map(([, c]) => c.height),
    colour: entries.map(([, c]) => c.colour === null ? -1 : c.colour ? 1 : 0),
    row: entries.map(([, c]) => c.row),
    bad,
  }));
  const magic = new TextEncoder().encode(MAGIC);
  const head = new Uint8Array(magic.length + 4 + header.length);
  head.set(magic);
  new DataView(head.buffer).setUint32(magic.length, header.length, true);
  head.set(header, magic.length + 4);
  const temporary = `${path}.tmp-${Deno.pid}`;
  try {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    try {
      for (const part of [head, cache.pixels]) {
        for (let done = 0; done < part.length;) done += await file.write(part.subarray(done));
      }
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
    return null;
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    return (error as Error).message;
  }
}
