/**
 * Decoding the files a scan found into one block of 8-bit pixels: settings left to the images are
 * resolved (the channels from the files' headers, the size from the images' common size), a set
 * that cannot fit in memory is refused before any pixel is decoded, files are decoded a few at a
 * time with progress reports, and everything learnt is kept in the decode cache (cache.ts), whose
 * pixels later runs reuse.
 */
import { MagnetInputError } from "../../errors.ts";
import {
  type CachedImage,
  cacheFile,
  fileKey,
  type ImageCache,
  readCache,
  writeCache,
} from "./cache.ts";
import { type DecodedImage, ImageDecodeError, type ImageDecoder } from "./decoder.ts";
import type { ImageFile, ScannedImages } from "./folder.ts";
import { mapLimited } from "../../util/map_limited.ts";
import { ImagePixels } from "./image_rows.ts";
import type { ImageFormat, ImageOptions, ImageSize } from "./settings.ts";

/** Files read and decoded at once: enough to keep every decoding thread busy. */
const CONCURRENCY = 8;

/** Progress of a decode: which stage, and how many of its files are done. */
export interface DecodeProgress {
  /** "headers": reading each file's header (when the channels are left to the images); "pixels". */
  readonly stage: "headers" | "pixels";
  /** Files of the stage done. */
  readonly done: number;
  /** Files of the stage in all. */
  readonly total: number;
  /** Of them, how many came from the cache. */
  readonly cached: number;
}

/** Options of {@link decodeImages}. */
export interface DecodeOptions {
  /** The cache folder; null: no cache. */
  readonly cacheDir: string | null;
  /** Skip images that cannot be decoded (they are listed in the result) rather than fail. */
  readonly skipBadImages: boolean;
  /** The decoder; default sharp (imported now if it was not). */
  readonly decoder?: ImageDecoder;
  /** Called as files are done. */
  readonly onProgress?: (progress: DecodeProgress) => void;
  /** Bytes the pixels may take; default what the system has available. */
  readonly memory?: number;
  /** How the data is named in the memory error ("--data DIR", say); default the folder. */
  readonly what?: string;
}

/** The decoded images of a scan. */
export interface DecodedImages {
  /** Every decoded image, in the order of `files`. */
  readonly pixels: ImagePixels;
  /** The scan's index of each row's file. */
  readonly files: number[];
  /** What every image was decoded to. */
  readonly format: ImageFormat;
  /**
   * The first decoded file stored in colour (its relative path), or null when none is; undefined
   * when the headers were not read (the channels were given).
   */
  readonly colourFile: string | null | undefined;
  /** Images skipped because they cannot be decoded (only with `skipBadImages`). */
  readonly bad: { readonly relative: string; readonly reason: string }[];
  /** Images taken from the cache, and decoded now. */
  readonly cached: number;
  readonly decoded: number;
  /** Why the cache could not be written, or null. */
  readonly cacheWarning: string | null;
}

/** "1.2 GB", "310 MB", "12 kB" */
function bytesText(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return bytes >= 1e6 ? `${Math.ceil(bytes / 1e6)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}

async function readBytes(file: ImageFile): Promise<Uint8Array> {
  try {
    return await Deno.readFile(file.path);
  } catch (error) {
    const reason = error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new ImageDecodeError(`cannot be read (${reason})`);
  }
}

/**
 * Decodes the images of `scan` with `settings` (see the module comment).
 *
 * @throws {MagnetInputError} naming the file, when an image cannot be read or decoded (unless
 *   `skipBadImages`), when images left at their own size differ in size, and when the pixels
 *   would not fit in memory
 */
export async function decodeImages(
  scan: ScannedImages,
  settings: ImageOptions,
  options: DecodeOptions,
): Promise<DecodedImages> {
  // The decoder (sharp, by default) is loaded only when a file needs it, not for a cached set.
  const sharp = options.decoder ? null : await import("./sharp_decoder.ts");
  const name = options.decoder?.name ?? sharp!.SHARP_DECODER_NAME;
  let loaded: Promise<ImageDecoder> | null = options.decoder
    ? Promise.resolve(options.decoder)
    : null;
  const decoder = () => (loaded ??= sharp!.createSharpDecoder());
  const path = options.cacheDir === null
    ? null
    : await cacheFile(options.cacheDir, scan.root, settings, name);
  const cache = path === null ? null : await readCache(path);
  const files = scan.files;
  const n = files.length;
  const known: (CachedImage | undefined)[] = files.map((f) => cache?.images.get(fileKey(f)));
  const width = Int32Array.from(known, (c) => c?.width ?? 0);
  const height = Int32Array.from(known, (c) => c?.height ?? 0);
  const colour = known.map((c) => c?.colour ?? null);
  const bad: (string | null)[] = new Array(n).fill(null);
  let learnt = 0;
  const fail = (i: number, reason: string) => {
    if (!options.skipBadImages) {
      throw new MagnetInputError(
        `${files[i].path} ${reason}; --skip-bad-images skips such files`,
      );
    }
    bad[i] = reason;
  };
  files.forEach((f, i) => {
    if (known[i]?.bad) fail(i, known[i]!.bad!);
    else if (f.unreadable !== null) fail(i, `cannot be read (${f.unreadable})`);
    else if (f.size === 0) fail(i, "is empty (0 bytes)");
  });
  const badList = () =>
    files.flatMap((f, i) => bad[i] === null ? [] : [{ relative: f.relative, reason: bad[i]! }]);
  const colourFile = (rows: number[]) => {
    if (settings.channels !== null) return undefined;
    const i = rows.find((i) => colour[i]);
    return i === undefined ? null : files[i].relative;
  };
  const report = (stage: DecodeProgress["stage"], done: number, total: number, cached: number) =>
    options.onProgress?.({ stage, done, total, cached });
  /** Runs `work` on file i's bytes; a file that cannot be read or decoded is failed (null). */
  const attempt = async <T>(i: number, work: (bytes: Uint8Array) => Promise<T>) => {
    learnt++;
    try {
      return await work(await readBytes(files[i]));
    } catch (error) {
      if (!(error instanceof ImageDecodeError)) throw error;
      fail(
        i,
        /^cannot/.test(error.message) ? error.message : `cannot be decoded (${error.message})`,
      );
      return null;
    }
  };

  // The channels left to the images: every file's header says whether it is stored in colour.
  if (settings.channels === null) {
    const todo = files.map((_, i) => i).filter((i) => bad[i] === null && colour[i] === null);
    let done = 0;
    await mapLimited(todo, CONCURRENCY, async (i) => {
      const info = await attempt(i, async (bytes) => (await decoder()).info(bytes));
      if (info !== null) [width[i], height[i], colour[i]] = [info.width, info.height, info.colour];
      report("headers", ++done, todo.length, 0);
    });
  }
  const good = () => files.map((_, i) => i).filter((i) => bad[i] === null);
  const none = () => new MagnetInputError(`${scan.root}: none of its ${n} images can be decoded`);
  if (good().length === 0) throw none();
  const channels = settings.channels ?? (good().some((i) => colour[i]) ? 3 : 1);
  let size: ImageSize | null = settings.size;
  if (size === null && settings.channels === null) size = commonSize(scan, good(), width, height);
  const request = { size: settings.size, channels, resize: settings.resize } as const;

  // Without a size, the cache's format or the first image decoded at its own size gives it.
  const early = new Map<number, DecodedImage>();
  let format: ImageFormat | null = size === null
    ? null
    : { ...size, channels, resize: settings.resize };
  if (format === null && cache?.format && good().some((i) => (known[i]?.row ?? -1) >= 0)) {
    format = cache.format;
  }
  while (format === null) {
    const i = good()[0];
    if (i === undefined) throw none();
    const image = await attempt(i, async (bytes) => (await decoder()).decode(bytes, request));
    if (image !== null) {
      early.set(i, image);
      format = { width: image.width, height: image.height, channels, resize: settings.resize };
    }
  }
  const rowBytes = format.width * format.height * format.channels;
  const reuse = cache?.format != null && sameFormat(cache.format, format);
  const rows = good();
  // Nothing new and every row in the cache, in order: its pixels are used as they are.
  if (
    reuse && learnt === 0 && files.length === cache!.images.size &&
    rows.every((i, r) => known[i]?.row === r) && cache!.pixels.length === rows.length * rowBytes
  ) {
    return {
      pixels: new ImagePixels(cache!.pixels, [format.height, format.width, format.channels]),
      files: rows,
      format,
      colourFile: colourFile(rows),
      bad: badList(),
      cached: rows.length,
      decoded: 0,
      cacheWarning: null,
    };
  }
  const needed = rows.length * rowBytes;
  const memory = options.memory ?? Deno.systemMemoryInfo().available;
  if (needed > memory) {
    throw new MagnetInputError(
      `the ${rows.length.toLocaleString("en-US")} images of ${options.what ?? scan.root} need ${
        bytesText(needed)
      } of memory as ${format.width}x${format.height} ${
        format.channels === 1 ? "grey" : "RGB"
      } pixels, more than the ${bytesText(memory)} available: give a smaller --image-size` +
        (format.channels === 3 ? " or --channels 1" : "") + ", or use fewer images",
    );
  }
  const data = new Uint8Array(needed);
  const first = rows[0];
  let cached = 0, done = 0;
  await mapLimited(rows, CONCURRENCY, async (i, r) => {
    const slot = data.subarray(r * rowBytes, (r + 1) * rowBytes);
    const row = reuse ? known[i]?.row ?? -1 : -1;
    if (row >= 0) {
      slot.set(cache!.pixels.subarray(row * rowBytes, (row + 1) * rowBytes));
      cached++;
    } else {
      const image = early.get(i) ??
        await attempt(i, async (bytes) => (await decoder()).decode(bytes, request));
      if (image !== null) {
        if (image.width !== format!.width || image.height !== format!.height) {
          throw new MagnetInputError(
            `images differ in size: ${files[i].path} is ${image.width}x${image.height}, ` +
              `${files[first].path} ${format!.width}x${format!.height}: give --image-size N or ` +
              "WxH (with --resize crop, pad or stretch) to bring them to one size",
          );
        }
        slot.set(image.pixels);
      }
    }
    report("pixels", ++done, rows.length, cached);
  });
  const kept = rows.filter((i) => bad[i] === null);
  let pixels = data;
  if (kept.length < rows.length) {
    // Images found bad while decoding leave holes: close them.
    pixels = new Uint8Array(kept.length * rowBytes);
    let r = 0;
    rows.forEach((i, slot) => {
      if (bad[i] === null) {
        pixels.set(data.subarray(slot * rowBytes, (slot + 1) * rowBytes), r++ * rowBytes);
      }
    });
  }
  let cacheWarning: string | null = null;
  if (path !== null && (learnt > 0 || cache === null || cache.images.size !== n)) {
    const images = new Map<string, CachedImage>();
    const rowOf = new Map(kept.map((i, r) => [i, r]));
    files.forEach((f, i) =>
      images.set(fileKey(f), {
        width: width[i],
        height: height[i],
        colour: colour[i],
        row: rowOf.get(i) ?? -1,
        bad: bad[i],
      })
    );
    const next: ImageCache = { format, images, pixels };
    const problem = await writeCache(path, next);
    if (problem !== null) cacheWarning = `could not write the decode cache ${path}: ${problem}`;
  }
  return {
    pixels: new ImagePixels(pixels, [format.height, format.width, format.channels]),
    files: kept,
    format,
    colourFile: colourFile(kept),
    bad: badList(),
    cached,
    decoded: kept.length - cached,
    cacheWarning,
  };
}

function sameFormat(a: ImageFormat, b: ImageFormat): boolean {
  return a.width === b.width && a.height === b.height && a.channels === b.channels &&
    a.resize === b.resize;
}

/** The one size the images have; images of several sizes are an error that names two of them. */
function commonSize(
  scan: ScannedImages,
  good: number[],
  width: Int32Array,
  height: Int32Array,
): ImageSize {
  const first = good[0];
  const other = good.find((i) => width[i] !== width[first] || height[i] !== height[first]);
  if (other !== undefined) {
    throw new MagnetInputError(
      `images differ in size: ${scan.files[other].path} is ${width[other]}x${height[other]}, ` +
        `${scan.files[first].path} ${width[first]}x${height[first]}: give --image-size N or WxH ` +
        "(with --resize crop, pad or stretch) to bring them to one size",
    );
  }
  return { width: width[first], height: height[first] };
}
