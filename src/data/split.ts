/**
 * Seeded, stratified train/test splits.
 *
 * @module
 */

import { MagnetInputError } from "../errors.ts";
import { Random } from "../util/random.ts";

/** Row indices of the two parts of a split, each sorted ascending. */
export interface Split {
  /** Rows to train on. */
  train: Int32Array;
  /** Rows held out for evaluation. */
  test: Int32Array;
}

/** Options of {@link stratifiedSplit}. */
export interface SplitOptions {
  /**
   * Rows of each class that stay in the training part at least (default 1): 2 for a split of data
   * that is trained on, where every class needs a pair. A class with no more rows than this gives
   * none to the held-out part.
   */
  readonly keep?: number;
}

/**
 * Splits rows into train and test parts class by class, so each class keeps its share in both.
 *
 * For every class with `c > keep` rows, `round(testFraction * c)` of them, clamped to
 * `[1, c - keep]`, go to test: every class is then both trained on and evaluated. A class with
 * `keep` rows or fewer (by default a single row) goes to train, because a lone test example has
 * no same-class neighbour to be judged against. Which rows are chosen depends only on `labels`, `testFraction` and `seed`:
 * classes are visited in ascending label order and each one's rows are shuffled with one
 * {@link Random} stream.
 *
 * @param labels class index of each row (any integers; they only need to compare equal)
 * @param testFraction share of each class to hold out, strictly between 0 and 1
 * @param seed seed of the shuffle
 * @throws {MagnetInputError} when `testFraction` is not a number strictly between 0 and 1
 */
export function stratifiedSplit(
  labels: Int32Array,
  testFraction: number,
  seed: number,
  options: SplitOptions = {},
): Split {
  const keep = options.keep ?? 1;
  if (typeof testFraction !== "number" || !(testFraction > 0 && testFraction < 1)) {
    throw new MagnetInputError(
      `test fraction must be a number strictly between 0 and 1, found ${testFraction}.`,
    );
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const rows = byClass.get(labels[i]);
    if (rows === undefined) byClass.set(labels[i], [i]);
    else rows.push(i);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const random = new Random(seed);
  const inTest = new Uint8Array(labels.length);
  let testCount = 0;
  for (const label of classes) {
    const rows = byClass.get(label)!;
    const c = rows.length;
    if (c <= keep) continue;
    const k = Math.min(c - keep, Math.max(1, Math.round(testFraction * c)));
    random.shuffle(rows);
    for (let j = 0; j < k; j++) inTest[rows[j]] = 1;
    testCount += k;
  }
  // Reading the membership mask in row order gives both parts already sorted.
  const train = new Int32Array(labels.length - testCount);
  const test = new Int32Array(testCount);
  let a = 0, b = 0;
  for (let i = 0; i < labels.length; i++) {
    if (inTest[i]) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}
