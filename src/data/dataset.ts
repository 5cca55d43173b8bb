/**
 * The in-memory dataset that loaders produce and training, evaluation and embedding consume.
 *
 * @module
 */

import { MagnetInputError } from "../errors.ts";
import type { Features, RowSource } from "./row_source.ts";

export type { Features, RowSource };

/**
 * A labelled set of feature vectors.
 *
 * Rows are examples. A table (`R` = Float32Array, the default) stores them in `features`
 * row-major, so that one row is a contiguous slice; other data (images held as 8-bit pixels)
 * gives a {@link RowSource} that makes float32 rows on demand. Whatever reads rows for a batch, an
 * embedding or a check takes `Dataset<Features>` and reads them through `rowSource` (row_source.ts).
 */
export interface Dataset<R extends Features = Float32Array> {
  /** `n x dim` feature values, row-major, or the source that makes them. */
  features: R;
  /** Number of features per row. */
  dim: number;
  /** `n` class indices, each in `[0, classNames.length)`. */
  labels: Int32Array;
  /** Display names of the classes (for MNIST "0".."9"; for CSV the label strings). */
  classNames: string[];
  /** Names of the feature columns, when the source has them (CSV headers). */
  featureNames?: string[];
  /**
   * For images: each row is one, [height, width, channels] flattened channels last (what a CNN
   * needs to see rows as images). Absent for tables.
   */
  imageShape?: readonly [number, number, number];
  /**
   * Where each row stands in its source, 1-based, as messages name it (a CSV file's line, header
   * included); absent when it is the row's position. Subsets carry it, so a message about a row of
   * a split still names the row of the file.
   */
  sourceRows?: Int32Array;
  /**
   * Each row's identity for the user, when the source has one (an image's file path, a CSV's id
   * column): carried by subsets and written beside embeddings and search results. Absent: rows are
   * known by their position.
   */
  ids?: readonly string[];
}

/** The number of rows (examples) in `d`. */
export function datasetSize(d: Dataset<Features>): number {
  return d.labels.length;
}

/**
 * A new dataset holding the rows of `d` at `indices`, in that order (repeats allowed).
 *
 * The class list is kept whole, even for classes the subset lacks, so that label indices mean
 * the same thing in a train split, a test split and the full set.
 *
 * @throws {RangeError} when an index is not an integer row of `d`; indices come from code, not
 * from users, so this is a bug rather than a {@link MagnetInputError}.
 */
export function subset<R extends Features>(d: Dataset<R>, indices: ArrayLike<number>): Dataset<R> {
  const n = datasetSize(d);
  const dim = d.dim;
  const m = indices.length;
  const table = d.features instanceof Float32Array ? d.features : null;
  const features = table !== null ? new Float32Array(m * dim) : null;
  const labels = new Int32Array(m);
  const sourceRows = new Int32Array(m);
  const ids = d.ids === undefined ? undefined : new Array<string>(m);
  for (let i = 0; i < m; i++) {
    const r = indices[i];
    if (!Number.isInteger(r) || r < 0 || r >= n) {
      throw new RangeError(
        `subset: index ${r} at position ${i} is not a row of a ${n}-row dataset`,
      );
    }
    features?.set(table!.subarray(r * dim, (r + 1) * dim), i * dim);
    labels[i] = d.labels[r];
    sourceRows[i] = d.sourceRows?.[r] ?? r + 1;
    if (ids !== undefined) ids[i] = d.ids![r];
  }
  const out: Dataset<R> = {
    // Other sources make their own subsets (images share their pixels rather than copy them).
    features: (features ?? (d.features as RowSource).subset(indices)) as R,
    dim,
    labels,
    classNames: d.classNames.slice(),
    sourceRows,
  };
  if (d.featureNames) out.featureNames = d.featureNames.slice();
  if (d.imageShape) out.imageShape = d.imageShape;
  if (ids !== undefined) out.ids = ids;
  return out;
}

/**
 * Checks that `d` is usable for metric learning and throws a {@link MagnetInputError} naming
 * `source` and the first offending row (1-based) and column when it is not.
 *
 * Checked: `dim` is a positive integer; `features` holds exactly `n * dim` values, all finite;
 * `featureNames`, when given, has `dim` entries; class names are distinct; every label is an
 * integer in range; and, for training data (`forTraining`, the default), at least two classes are
 * present and no present class has a single example (the loss needs a positive pair for every
 * class it samples).
 */
export function validateDataset(
  d: Dataset<Features>,
  source: string,
  options: {
    /** False for test data: then one class, or one example of a class, is fine. */
    forTraining?: boolean;
    /** How messages name the label column (a CSV's `column 2 "label"`), if the data has one. */
    labelColumn?: string;
  } = {},
): void {
  const n = d.labels.length;
  const dim = d.dim;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(
      `${source}: the dataset has no feature columns (dim is ${dim}); at least one is needed.`,
    );
  }
  const values = d.features instanceof Float32Array ? d.features.length : d.features.count * dim;
  if (values !== n * dim || (!(d.features instanceof Float32Array) && d.features.dim !== dim)) {
    throw new MagnetInputError(
      `${source}: expected ${n} rows x ${dim} features = ${n * dim} values, found ${values}.`,
    );
  }
  if (d.sourceRows !== undefined && d.sourceRows.length !== n) {
    throw new MagnetInputError(
      `${source}: expected ${n} source rows (one per row), found ${d.sourceRows.length}.`,
    );
  }
  if (d.featureNames !== undefined && d.featureNames.length !== dim) {
    throw new MagnetInputError(
      `${source}: expected ${dim} feature names (one per feature), found ${d.featureNames.length}.`,
    );
  }
  const seenNames = new Map<string, number>();
  for (let k = 0; k < d.classNames.length; k++) {
    const name = d.classNames[k];
    const earlier = seenNames.get(name);
    if (earlier !== undefined) {
      throw new MagnetInputError(
        `${source}: class ${k} has the same name ${JSON.stringify(name)} as class ${earlier}; ` +
          `class names must be distinct.`,
      );
    }
    seenNames.set(name, k);
  }
  if (n === 0) throw new MagnetInputError(`${source}: the dataset has no rows.`);

  // A table's values are checked here; a source makes finite rows by construction (8-bit pixels
  // under a finite normalisation, checked when it is made).
  const f = d.features instanceof Float32Array ? d.features : new Float32Array(0);
  for (let i = 0; i < f.length; i++) {
    // Subtracting itself is NaN exactly for NaN and +-Infinity, and keeps this hot loop cheap.
    if (f[i] - f[i] !== 0) {
      const row = Math.floor(i / dim);
      const col = i - row * dim;
      throw new MagnetInputError(
        `${source}, ${rowLabel(d, row)}, ${columnLabel(d, col)}: expected a finite number, ` +
          `found ${f[i]}.`,
      );
    }
  }

  const classCount = d.classNames.length;
  const counts = new Int32Array(classCount);
  const firstRow = new Int32Array(classCount);
  for (let r = 0; r < n; r++) {
    const label = d.labels[r];
    if (!(Number.isInteger(label) && label >= 0 && label < classCount)) {
      throw new MagnetInputError(
        `${source}, ${rowLabel(d, r)}: expected a class index in [0, ${classCount}), ` +
          `found ${label}.`,
      );
    }
    if (counts[label] === 0) firstRow[label] = r;
    counts[label]++;
  }
  if (options.forTraining === false) return;
  const column = options.labelColumn === undefined ? "" : `, ${options.labelColumn}`;
  const quote = (k: number) => {
    const name = d.classNames[k];
    return JSON.stringify(name.length > 40 ? name.slice(0, 40) + "..." : name);
  };
  const present: number[] = [];
  for (let k = 0; k < classCount; k++) if (counts[k] > 0) present.push(k);
  if (present.length < 2) {
    const found = present.length === 0 ? "none" : `only ${quote(present[0])}`;
    throw new MagnetInputError(
      `${source}${column}: expected at least two classes, found ${found}.`,
    );
  }
  // Name the single-example class met first in row order, since that is the one a person
  // scanning the file meets first; list the others.
  const singletons = present.filter((k) => counts[k] === 1)
    .sort((a, b) => firstRow[a] - firstRow[b]);
  if (singletons.length > 0) {
    const first = singletons[0];
    const shown = singletons.slice(0, 5).map(quote).join(", ") +
      (singletons.length > 5 ? ` and ${singletons.length - 5} more` : "");
    const others = singletons.length > 1
      ? ` (${singletons.length} classes have one example: ${shown})`
      : "";
    // Mostly-unique labels usually mean the wrong column was taken as the label.
    const hint = options.labelColumn !== undefined && singletons.length * 2 > present.length
      ? ` Is ${options.labelColumn} really the column of class labels?`
      : "";
    throw new MagnetInputError(
      `${source}, ${rowLabel(d, firstRow[first])}${column}: class ${quote(first)} has a ` +
        `single example; every class needs at least two${others}.${hint}`,
    );
  }
}

/** How messages name a row: its id (an image's path), or "row N" of its source. */
function rowLabel(d: Dataset<Features>, row: number): string {
  const id = d.ids?.[row];
  return id !== undefined ? JSON.stringify(id) : `row ${d.sourceRows?.[row] ?? row + 1}`;
}

function columnLabel(d: Dataset<Features>, col: number): string {
  const name = d.featureNames?.[col];
  return name === undefined ? `column ${col + 1}` : `column ${col + 1} ${JSON.stringify(name)}`;
}
