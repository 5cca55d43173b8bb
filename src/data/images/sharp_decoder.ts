/**
 * The image decoder under Deno: sharp (libvips), an npm package with prebuilt binaries for every
 * common platform (no install script, no node_modules folder), imported only when an image folder
 * is used. Its specifier is held in a variable, so Deno neither fetches it ahead of a run nor lists
 * it among the project's dependencies: `deno task train` on MNIST or a CSV installs nothing for it,
 * and the first image run downloads it (see the README). The few calls used here are typed below
 * rather than through the package, so type checking never fetches it either.
 */
import {
  type DecodedImage,
  type DecodeRequest,
  ImageDecodeError,
  type ImageDecoder,
  type ImageInfo,
  MAX_IMAGE_PIXELS,
  tooManyPixels,
} from "./decoder.ts";

/** The pinned sharp release. */
export const SHARP_SPECIFIER = "npm:sharp@0.35.6";

/**
 * The decoder's name (part of the decode cache's key), known without loading sharp: a release of
 * sharp pins its libvips.
 */
export const SHARP_DECODER_NAME = `sharp ${SHARP_SPECIFIER.split("@").pop()}`;

/** Options of the sharp constructor used here. */
interface SharpOptions {
  limitInputPixels?: number | false;
  failOn?: "none" | "truncated" | "error" | "warning";
  autoOrient?: boolean;
  raw?: { width: number; height: number; channels: 1 | 2 | 3 | 4; pageHeight?: number };
}

/** A sharp pipeline: the calls used by the decoder, the tests and the scripts. */
export interface SharpImage {
  metadata(): Promise<{
    width: number;
    height: number;
    space?: string;
    autoOrient?: { width: number; height: number };
  }>;
  flatten(options: { background: string }): SharpImage;
  toColourspace(space: string): SharpImage;
  resize(
    width: number,
    height: number,
    options: { fit: string; position: string; background: Record<string, number> },
  ): SharpImage;
  raw(options?: { depth: "uchar" }): SharpImage;
  png(options?: Record<string, unknown>): SharpImage;
  jpeg(options?: Record<string, unknown>): SharpImage;
  webp(options?: Record<string, unknown>): SharpImage;
  gif(options?: Record<string, unknown>): SharpImage;
  tiff(options?: Record<string, unknown>): SharpImage;
  withMetadata(options?: { orientation?: number }): SharpImage;
  toBuffer(): Promise<Uint8Array>;
  toBuffer(options: { resolveWithObject: true }): Promise<{
    data: Uint8Array;
    info: { width: number; height: number; channels: number };
  }>;
  toFile(path: string): Promise<unknown>;
}

/** The sharp module: a function making pipelines, with its global settings. */
export interface Sharp {
  (input?: Uint8Array, options?: SharpOptions): SharpImage;
  versions: { sharp: string; vips: string };
  concurrency(threads: number): number;
  cache(enabled: boolean): unknown;
}

let sharpModule: Promise<Sharp> | null = null;

/**
 * sharp, imported on the first call (its prebuilt libvips for this platform is fetched from npm
 * the first time on a machine). Each image is decoded on one libvips thread, several images at
 * once: for small images that is faster than one image on many threads.
 */
export function loadSharp(): Promise<Sharp> {
  sharpModule ??= (async () => {
    const specifier = SHARP_SPECIFIER; // a variable: fetched when this runs, never ahead
    const sharp = (await import(specifier)).default as Sharp;
    sharp.concurrency(1);
    // Its operation cache only helps when one image is processed many times.
    sharp.cache(false);
    return sharp;
  })();
  return sharpModule;
}

const FIT = { crop: "cover", pad: "contain", stretch: "fill" } as const;

/** Colour spaces of grey images as libvips names them; every other one holds colour. */
const GREY_SPACES = new Set(["b-w", "grey16"]);

class SharpDecoder implements ImageDecoder {
  readonly name: string = SHARP_DECODER_NAME;

  constructor(readonly sharp: Sharp) {}

  /** A pipeline over `bytes`; `limited`: images over the pixel limit fail before decoding. */
  #open(bytes: Uint8Array, limited = true): SharpImage {
    return this.sharp(bytes, {
      // libvips refuses them from the header (reading a header alone needs no limit).
      limitInputPixels: limited ? MAX_IMAGE_PIXELS : false,
      // A truncated or damaged file is an error, never a partly grey image.
      failOn: "warning",
      autoOrient: true,
    });
  }

  async info(bytes: Uint8Array): Promise<ImageInfo> {
    let m;
    try {
      m = await this.#open(bytes, false).metadata();
    } catch (error) {
      throw reason(error);
    }
    const width = m.autoOrient?.width ?? m.width, height = m.autoOrient?.height ?? m.height;
    if (!(width > 0 && height > 0)) throw new ImageDecodeError("its header gives no size");
    if (width * height > MAX_IMAGE_PIXELS) throw tooManyPixels(width, height);
    return { width, height, colour: !GREY_SPACES.has(m.space ?? "") };
  }

  async decode(bytes: Uint8Array, request: DecodeRequest): Promise<DecodedImage> {
    let pipeline = this.#open(bytes)
      .flatten({ background: "#ffffff" })
      .toColourspace(request.channels === 1 ? "b-w" : "srgb");
    if (request.size !== null) {
      pipeline = pipeline.resize(request.size.width, request.size.height, {
        fit: FIT[request.resize],
        position: "centre",
        background: { r: 0, g: 0, b: 0, alpha: 1 },
      });
    }
    let result;
    try {
      result = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    } catch (error) {
      const cause = reason(error);
      if (/pixel limit/i.test(cause.message)) {
        // Name the size: the header says it without decoding.
        const info = await this.info(bytes);
        throw tooManyPixels(info.width, info.height);
      }
      throw cause;
    }
    const { data, info } = result;
    if (info.channels !== request.channels) {
      throw new ImageDecodeError(
        `it decoded to ${info.channels} channels where ${request.channels} were asked for`,
      );
    }
    return {
      pixels: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  }
}

/** libvips' reason, in one line, as an {@link ImageDecodeError}. */
function reason(error: unknown): ImageDecodeError {
  if (error instanceof ImageDecodeError) return error;
  const text = (error instanceof Error ? error.message : String(error)).split("\n")
    .map((line) => line.trim()).filter((line) => line !== "").join("; ");
  return new ImageDecodeError(text === "" ? "it could not be decoded" : text);
}

/** The sharp decoder (sharp is imported on the first call; see {@link loadSharp}). */
export async function createSharpDecoder(): Promise<ImageDecoder> {
  return new SharpDecoder(await loadSharp());
}
