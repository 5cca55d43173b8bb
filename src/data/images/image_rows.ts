/**
 * Images held as 8-bit pixels (height x width x channels each, channels last) and made float32 per
 * batch: each value scaled to [0, 1], then shifted and scaled per channel by a normalisation (the
 * training set's mean and standard deviation, or any other, such as a pretrained network's). A
 * subset shares its parent's pixels through an index, so splits cost no copy.
 *
 * {@link ImageRows} is a `RowSource` (data/rows.ts) by its shape: this folder sits below data/'s
 * own files (which load images through it) and imports nothing from them.
 */
import { MagnetInputError } from "../../errors.ts";

function checkRowIndex(r: number, position: number, n: number): void {
  if (!Number.isInteger(r) || r < 0 || r >= n) {
    throw new RangeError(
      `row index ${r} at position ${position} is not a row of a ${n}-row data set`,
    );
  }
}

/** Per-channel mean and standard deviation of pixel values scaled to [0, 1]. */
export interface Normalization {
  /** One mean per channel. */
  readonly mean: readonly number[];
  /** One standard deviation per channel (positive). */
  readonly std: readonly number[];
}

/** The normalisation that leaves pixels in [0, 1]: mean 0, standard deviation 1. */
export function identityNormalization(channels: number): Normalization {
  return { mean: new Array(channels).fill(0), std: new Array(channels).fill(1) };
}

/** Decoded images of one shape, in one block of memory; shared by every view of them. */
export class ImagePixels {
  #digest: Promise<Uint8Array> | null = null;

  /** `data` holds `data.length / (h * w * c)` images of `shape` = [h, w, c], one after another. */
  constructor(readonly data: Uint8Array, readonly shape: readonly [number, number, number]) {
    const [h, w, c] = shape;
    const size = h * w * c;
    if (![h, w, c].every((v) => Number.isInteger(v) && v > 0) || data.length % size !== 0) {
      throw new RangeError(`ImagePixels: ${data.length} bytes are not images of [${shape}]`);
    }
  }

  /** Number of images. */
  get count(): number {
    const [h, w, c] = this.shape;
    return this.data.length / (h * w * c);
  }

  /** SHA-256 of the pixels (computed once, in chunks of at most 256 MiB, then combined). */
  digest(): Promise<Uint8Array> {
    this.#digest ??= (async () => {
      const chunk = 256 * 1024 * 1024;
      const parts: Uint8Array[] = [];
      for (let start = 0; start < this.data.length; start += chunk) {
        const part = this.data.subarray(start, start + chunk) as Uint8Array<ArrayBuffer>;
        parts.push(new Uint8Array(await crypto.subtle.digest("SHA-256", part)));
      }
      return await sha256(parts);
    })();
    return this.#digest;
  }
}

async function sha256(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
}

/** Images as a row source: 8-bit pixels in, normalised float32 rows out. */
export class ImageRows {
  /** float32 value of each 8-bit value of each channel: channel * 256 + value. */
  readonly #table: Float32Array;

  /**
   * The images of `pixels` at `index` (all of them, in order, when it is null), normalised with
   * `normalization` (one mean and one positive standard deviation per channel).
   */
  constructor(
    readonly pixels: ImagePixels,
    readonly normalization: Normalization,
    readonly index: Int32Array | null = null,
  ) {
    const channels = pixels.shape[2];
    const { mean, std } = normalization;
    if (mean.length !== channels || std.length !== channels) {
      throw new MagnetInputError(
        `an image normalisation needs ${channels} means and standard deviations (one per ` +
          `channel), found ${mean.length} and ${std.length}`,
      );
    }
    for (let k = 0; k < channels; k++) {
      if (!Number.isFinite(mean[k]) || !(std[k] > 0) || !Number.isFinite(std[k])) {
        throw new MagnetInputError(
          `an image normalisation needs finite means and positive standard deviations; channel ` +
            `${k + 1} has mean ${mean[k]} and standard deviation ${std[k]}`,
        );
      }
    }
    this.#table = new Float32Array(channels * 256);
    for (let k = 0; k < channels; k++) {
      for (let v = 0; v < 256; v++) this.#table[k * 256 + v] = (v / 255 - mean[k]) / std[k];
    }
    if (index !== null) index.forEach((r, i) => checkRowIndex(r, i, pixels.count));
  }

  /** [height, width, channels] of every image. */
  get shape(): readonly [number, number, number] {
    return this.pixels.shape;
  }

  /** Number of images. */
  get count(): number {
    return this.index?.length ?? this.pixels.count;
  }

  /** Values per row: height x width x channels. */
  get dim(): number {
    const [h, w, c] = this.pixels.shape;
    return h * w * c;
  }

  /** The stored image of row `row` (8-bit, channels last): a view, not a copy. */
  image(row: number): Uint8Array {
    checkRowIndex(row, 0, this.count);
    const r = this.index?.[row] ?? row;
    return this.pixels.data.subarray(r * this.dim, (r + 1) * this.dim);
  }

  #write(r: number, out: Float32Array, at: number): void {
    const dim = this.dim, channels = this.pixels.shape[2], table = this.#table;
    const data = this.pixels.data;
    const from = r * dim;
    if (channels === 1) {
      for (let j = 0; j < dim; j++) out[at + j] = table[data[from + j]];
    } else if (channels === 3) {
      for (let j = 0; j < dim; j += 3) {
        out[at + j] = table[data[from + j]];
        out[at + j + 1] = table[256 + data[from + j + 1]];
        out[at + j + 2] = table[512 + data[from + j + 2]];
      }
    } else {
      for (let j = 0; j < dim; j++) out[at + j] = table[(j % channels) * 256 + data[from + j]];
    }
  }

  /** Writes row `indices[i]` to `out` at `i * dim`, for every i (see `RowSource.gather`). */
  gather(indices: ArrayLike<number>, out: Float32Array): void {
    const n = this.count, dim = this.dim;
    for (let i = 0; i < indices.length; i++) {
      const row = indices[i];
      checkRowIndex(row, i, n);
      this.#write(this.index?.[row] ?? row, out, i * dim);
    }
  }

  /** Writes rows `start` to `start + count - 1` into `out` and returns it (`RowSource.range`). */
  range(start: number, count: number, out: Float32Array): Float32Array {
    const n = this.count, dim = this.dim;
    for (let i = 0; i < count; i++) {
      checkRowIndex(start + i, i, n);
      this.#write(this.index?.[start + i] ?? start + i, out, i * dim);
    }
    return out;
  }

  /** The images at `indices`, sharing these pixels. */
  subset(indices: ArrayLike<number>): ImageRows {
    const index = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      checkRowIndex(indices[i], i, this.count);
      index[i] = this.index?.[indices[i]] ?? indices[i];
    }
    return new ImageRows(this.pixels, this.normalization, index);
  }

  /** The same images under another normalisation. */
  withNormalization(normalization: Normalization): ImageRows {
    return new ImageRows(this.pixels, normalization, this.index);
  }

  /** SHA-256 of the pixels, which of them are rows, their shape and their normalisation. */
  async digest(): Promise<Uint8Array> {
    const index = this.index ?? new Int32Array(0);
    const index256 = new Uint8Array(
      await crypto.subtle.digest("SHA-256", index as Int32Array<ArrayBuffer>),
    );
    const settings = new TextEncoder().encode(
      JSON.stringify([this.index === null, this.shape, this.normalization]),
    );
    return await sha256([await this.pixels.digest(), index256, settings]);
  }
}

/**
 * The mean and standard deviation of each channel of `images`' pixels, scaled to [0, 1]
 * (counted exactly, by histogram); a constant channel gets a standard deviation of 1.
 */
export function fitNormalization(images: ImageRows): Normalization {
  const [, , channels] = images.shape;
  const counts = new Float64Array(channels * 256);
  for (let row = 0; row < images.count; row++) {
    const image = images.image(row);
    if (channels === 1) { for (let j = 0; j < image.length; j++) counts[image[j]]++; }
    else {
      for (let j = 0; j < image.length; j += channels) {
        for (let k = 0; k < channels; k++) counts[k * 256 + image[j + k]]++;
      }
    }
  }
  const mean: number[] = [], std: number[] = [];
  for (let k = 0; k < channels; k++) {
    let n = 0, sum = 0;
    for (let v = 0; v < 256; v++) {
      n += counts[k * 256 + v];
      sum += counts[k * 256 + v] * (v / 255);
    }
    const m = sum / Math.max(n, 1);
    let squares = 0;
    for (let v = 0; v < 256; v++) squares += counts[k * 256 + v] * (v / 255 - m) ** 2;
    const s = Math.sqrt(squares / Math.max(n, 1));
    mean.push(m);
    std.push(s > 1e-12 ? s : 1);
  }
  return { mean, std };
}
