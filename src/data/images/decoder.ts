/**
 * The small interface between image files and the rest: what an image is (its size and whether it
 * is stored in colour) and its pixels, decoded, oriented, flattened on white and brought to a size
 * and a channel count. Under Deno it is sharp (sharp_decoder.ts, loaded only when an image folder
 * is used); a web page can implement it with `createImageBitmap` and an `OffscreenCanvas`.
 */
import type { ImageSize, ResizeMode } from "./settings.ts";

/** The most pixels an image may have before it is decoded (a guard against decompression bombs). */
export const MAX_IMAGE_PIXELS = 100_000_000;

/** What a file's header says about its image. */
export interface ImageInfo {
  /** Width in pixels, after its orientation tag is applied. */
  readonly width: number;
  /** Height in pixels, after its orientation tag is applied. */
  readonly height: number;
  /** Whether it is stored in colour (RGB, CMYK, palette; WebP and GIF always are). */
  readonly colour: boolean;
}

/** What to decode an image to. */
export interface DecodeRequest {
  /** The target size; null keeps the image's own. */
  readonly size: ImageSize | null;
  /** 1: grey (luminance); 3: RGB (sRGB). */
  readonly channels: 1 | 3;
  /** How the image is brought to `size` (see settings.ts). */
  readonly resize: ResizeMode;
}

/** A decoded image. */
export interface DecodedImage {
  /** height x width x channels bytes, channels last. */
  readonly pixels: Uint8Array;
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** Decodes encoded images (PNG, JPEG, WebP, GIF's first frame, TIFF's first page). */
export interface ImageDecoder {
  /** The decoder and its version, in words: part of the decode cache's key. */
  readonly name: string;
  /** The image's header, without decoding its pixels. */
  info(bytes: Uint8Array): Promise<ImageInfo>;
  /**
   * The image's pixels, oriented as its tag says, alpha composited on white, converted to
   * `request.channels` and brought to `request.size`.
   * @throws {ImageDecodeError} when the bytes are not an image it can read whole, or the image
   *   has more than {@link MAX_IMAGE_PIXELS} pixels
   */
  decode(bytes: Uint8Array, request: DecodeRequest): Promise<DecodedImage>;
}

/** An image that cannot be decoded; the message says why, the caller adds which file. */
export class ImageDecodeError extends Error {
  /** `message` is the reason, in words. */
  constructor(message: string) {
    super(message);
    this.name = "ImageDecodeError";
  }
}

/** The error of an image over {@link MAX_IMAGE_PIXELS}. */
export function tooManyPixels(width: number, height: number): ImageDecodeError {
  const count = (n: number) => n.toLocaleString("en-US");
  return new ImageDecodeError(
    `${width} x ${height} = ${count(width * height)} pixels, more than the ` +
      `${count(MAX_IMAGE_PIXELS)} an image may have (a decompression bomb?)`,
  );
}
