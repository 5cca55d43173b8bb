/**
 * How image files become rows: the size every image is brought to, how (crop, pad or stretch) and
 * with how many channels. Settings as a person gives them may leave the size or the channels to the
 * images themselves; the resolved format is what the decoder is asked for and what a saved model
 * keeps, so new images are embedded exactly as the training images were.
 */
import { MagnetInputError } from "../../errors.ts";

/** How an image is brought to the target size. */
export const RESIZE_MODES = ["crop", "pad", "stretch"] as const;

/**
 * "crop": scale until the image covers the target, then cut the middle (for a square target, the
 * shorter side to N and a centre crop, as torchvision's Resize + CenterCrop); "pad": scale until
 * it fits inside and fill the rest with black; "stretch": scale each side to the target.
 */
export type ResizeMode = typeof RESIZE_MODES[number];

/** Width and height in pixels. */
export interface ImageSize {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
}

/** The image settings as given; null leaves them to the images. */
export interface ImageOptions {
  /** The target size; null: the images' common size (they must share one). */
  readonly size: ImageSize | null;
  /** How images are brought to the size. */
  readonly resize: ResizeMode;
  /** 1 (grey) or 3 (RGB); null: 3 when any file is stored in colour, else 1. */
  readonly channels: 1 | 3 | null;
}

/** Resolved image settings: what every decoded image is. */
export interface ImageFormat {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** 1 (grey) or 3 (RGB). */
  readonly channels: 1 | 3;
  /** How images were brought to the size. */
  readonly resize: ResizeMode;
}

/** The largest side accepted for a target size (a 32768 x 32768 RGB image is 3 GiB). */
export const MAX_SIDE = 32768;

/**
 * Parses `--image-size`: "N" (N x N) or "WxH", positive integers up to {@link MAX_SIDE}; `flag`
 * names the setting in the error.
 */
export function parseImageSize(text: string, flag = "--image-size"): ImageSize {
  const m = /^\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?$/.exec(text);
  const width = m ? Number(m[1]) : NaN;
  const height = m ? Number(m[2] ?? m[1]) : NaN;
  if (!(width >= 1 && height >= 1 && width <= MAX_SIDE && height <= MAX_SIDE)) {
    throw new MagnetInputError(
      `${flag} must be N or WxH (width x height) with sides from 1 to ${MAX_SIDE}, got "${text}"`,
    );
  }
  return { width, height };
}

/** "28x28x1": a format in words for messages and titles. */
export function describeFormat(f: ImageFormat): string {
  return `${f.width}x${f.height}, ${f.channels === 1 ? "grey" : "RGB"}, ${f.resize}`;
}

/** The row shape [height, width, channels] images of format `f` have. */
export function shapeOf(f: ImageFormat): [number, number, number] {
  return [f.height, f.width, f.channels];
}

/**
 * What a model's input images are: their format and the normalisation of their pixels (see
 * image_rows.ts). A saved model keeps it, so new images become rows exactly as its training images
 * did.
 */
export interface ImageInput extends ImageFormat {
  /** Per-channel mean of the training pixels, scaled to [0, 1]. */
  readonly mean: readonly number[];
  /** Per-channel standard deviation of the training pixels, scaled to [0, 1]. */
  readonly std: readonly number[];
  /**
   * Whether the channel count was chosen from the training images (rather than given): a grey
   * model chosen so has never seen colour, and refuses images stored in colour.
   */
  readonly channelsFromImages: boolean;
}
