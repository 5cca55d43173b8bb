/**
 * Augmentation of training batches of images, in place on the float32 rows a batch is made of
 * (height x width x channels each, channels last): a horizontal flip with probability 1/2, and for
 * "crop-flip" first a random resized crop as torchvision's `RandomResizedCrop` draws it (a share of
 * the area in {@link CROP_SCALE}, an aspect ratio in {@link CROP_RATIO}, log-uniform), scaled back
 * to the full size bilinearly. Every draw comes from the generator it is given, so a run that
 * captures and restores the generator's state augments exactly as an uninterrupted one.
 *
 * Working on float rows (after normalisation) rather than on the stored pixels makes it the same
 * for every image source; a per-channel affine normalisation commutes with both operations.
 */
import { MagnetInputError } from "../../errors.ts";
import { Random } from "../../util/random.ts";

/** The augmentations a training run may use. */
export const AUGMENT_KINDS = ["none", "flip", "crop-flip"] as const;

/** How training batches are augmented: not at all, flips, or random resized crops and flips. */
export type AugmentKind = typeof AUGMENT_KINDS[number];

/** The share of the image's area a random crop covers, from and to. */
export const CROP_SCALE: readonly [number, number] = [0.25, 1];

/** The aspect ratio (width / height) of a random crop, from and to (drawn log-uniformly). */
export const CROP_RATIO: readonly [number, number] = [3 / 4, 4 / 3];

/** A crop window: top-left corner and size, in pixels. */
export interface CropWindow {
  /** First row. */
  readonly top: number;
  /** First column. */
  readonly left: number;
  /** Rows. */
  readonly height: number;
  /** Columns. */
  readonly width: number;
}

/**
 * A random crop of an image of `height` x `width` drawn as torchvision's `RandomResizedCrop` does:
 * up to ten tries at a window of the drawn area and ratio that fits; failing that, the largest
 * centred window whose ratio is within range.
 */
export function randomCrop(height: number, width: number, random: Random): CropWindow {
  const area = height * width;
  const logLow = Math.log(CROP_RATIO[0]), logHigh = Math.log(CROP_RATIO[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (CROP_SCALE[0] + (CROP_SCALE[1] - CROP_SCALE[0]) * random.next());
    const ratio = Math.exp(logLow + (logHigh - logLow) * random.next());
    const w = Math.round(Math.sqrt(target * ratio));
    const h = Math.round(Math.sqrt(target / ratio));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      const top = random.int(height - h + 1);
      const left = random.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const ratio = width / height;
  let w = width, h = height;
  if (ratio < CROP_RATIO[0]) h = Math.round(w / CROP_RATIO[0]);
  else if (ratio > CROP_RATIO[1]) w = Math.round(h * CROP_RATIO[1]);
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/**
 * Where each output position samples a window of `size` pixels starting at `start` when it is
 * stretched over `out` positions (half-pixel centres, as bilinear resizing without corner
 * alignment): the two source positions and the weight of the second.
 */
function samples(start: number, size: number, out: number, flip: boolean) {
  const lo = new Int32Array(out), hi = new Int32Array(out), weight = new Float32Array(out);
  const last = start + size - 1;
  for (let o = 0; o < out; o++) {
    const at = flip ? out - 1 - o : o;
    const s = Math.min(Math.max(start + ((at + 0.5) * size) / out - 0.5, start), last);
    const i = Math.floor(s);
    lo[o] = i;
    hi[o] = Math.min(i + 1, last);
    weight[o] = s - i;
  }
  return { lo, hi, weight };
}

/** Augments batches of images of one shape; see the module comment. */
export class Augmenter {
  readonly #scratch: Float32Array;

  /**
   * `kind` is "flip" or "crop-flip"; `shape` is each row's [height, width, channels]; `random`
   * makes every draw (its state is the augmentation's whole state).
   */
  constructor(
    readonly kind: Exclude<AugmentKind, "none">,
    readonly shape: readonly [number, number, number],
    readonly random: Random,
  ) {
    const [h, w, c] = shape;
    this.#scratch = new Float32Array(h * w * c);
  }

  /** Augments the first `rows` images of `batch` in place. */
  apply(batch: Float32Array, rows: number): void {
    const [h, w, c] = this.shape;
    const size = h * w * c;
    for (let r = 0; r < rows; r++) {
      const image = batch.subarray(r * size, (r + 1) * size);
      const crop = this.kind === "crop-flip"
        ? randomCrop(h, w, this.random)
        : { top: 0, left: 0, height: h, width: w };
      const flip = this.random.next() < 0.5;
      const whole = crop.height === h && crop.width === w;
      if (whole && !flip) continue;
      this.#scratch.set(image);
      this.#resample(image, crop, flip);
    }
  }

  /** Writes the scratch image's `crop`, stretched to the full size and maybe mirrored, to `out`. */
  #resample(out: Float32Array, crop: CropWindow, flip: boolean): void {
    const [h, w, c] = this.shape;
    const src = this.#scratch;
    const ys = samples(crop.top, crop.height, h, false);
    const xs = samples(crop.left, crop.width, w, flip);
    for (let y = 0; y < h; y++) {
      const top = ys.lo[y] * w, bottom = ys.hi[y] * w, fy = ys.weight[y];
      for (let x = 0; x < w; x++) {
        const fx = xs.weight[x];
        const a = (top + xs.lo[x]) * c, b = (top + xs.hi[x]) * c;
        const d = (bottom + xs.lo[x]) * c, e = (bottom + xs.hi[x]) * c;
        const o = (y * w + x) * c;
        for (let k = 0; k < c; k++) {
          const upper = src[a + k] + (src[b + k] - src[a + k]) * fx;
          const lower = src[d + k] + (src[e + k] - src[d + k]) * fx;
          out[o + k] = upper + (lower - upper) * fy;
        }
      }
    }
  }
}

/**
 * The augmenter of `kind` for `data`'s images, drawing from a generator seeded with `seed`; null
 * for "none".
 * @throws {MagnetInputError} when rows that are not images (no image shape) would be augmented
 */
export function augmenterFor(
  kind: AugmentKind,
  data: { readonly imageShape?: readonly [number, number, number] },
  seed: number,
): Augmenter | null {
  if (kind === "none") return null;
  if (data.imageShape === undefined) {
    throw new MagnetInputError(
      `--augment ${kind} flips and crops images: these rows are not images`,
    );
  }
  return new Augmenter(kind, data.imageShape, new Random(seed));
}
