/**
 * Checks a run before any time is spent on it: the data, the model's size, and the method's settings
 * against the data. Every setting that would otherwise end minutes later as a NaN loss or an
 * allocation failure is refused here with its real cause.
 */
import { MagnetInputError } from "../errors.ts";
import { type Dataset, type Features, validateDataset } from "../data/dataset.ts";
import { rowSource } from "../data/row_source.ts";
import { MAX_TENSOR_ELEMENTS, type TrainConfig } from "./config.ts";

/** Training and (optional) test and validation data with the settings they will be trained with. */
export interface RunPlan {
  readonly train: Dataset<Features>;
  readonly test?: Dataset<Features>;
  readonly validation?: Dataset<Features>;
  readonly config: TrainConfig;
}

/** Throws a {@link MagnetInputError} naming the first reason the run cannot work. */
export function preflight({ train, test, validation, config }: RunPlan): void {
  validateDataset(train, "training data");
  if (test !== undefined) validateHeldOut(test, train, "test data");
  if (validation !== undefined) validateHeldOut(validation, train, "validation data");
  checkModelSize(train.dim, config);
  checkRowsDiffer(train);
  if (config.augment !== "none" && train.imageShape === undefined) {
    throw new MagnetInputError(
      `--augment ${config.augment} flips and crops images, but this data is a table of ` +
        `${train.dim} features: use --augment none`,
    );
  }
  if (config.loss === "magnet") checkClusters(train, config);
}

function validateHeldOut(
  held: Dataset<Features>,
  train: Dataset<Features>,
  what: string,
): void {
  if (held.dim !== train.dim) {
    throw new MagnetInputError(
      `${what}: rows have ${held.dim} features, the training rows ${train.dim}`,
    );
  }
  if (held.classNames.length !== train.classNames.length) {
    throw new MagnetInputError(
      `${what}: ${held.classNames.length} class names, the training data has ` +
        `${train.classNames.length}; both must use the training data's classes`,
    );
  }
  // Held-out rows may hold a single class, or one example of a class: only their values and
  // labels must be sound.
  validateDataset(held, what, { forTraining: false });
}

/** Every weight matrix and the batch's activations must fit in one buffer. */
function checkModelSize(inputDim: number, config: TrainConfig): void {
  const widths = [inputDim, ...config.hidden, config.embeddingDim];
  const names = [
    "the input",
    ...config.hidden.map((_, i) => `hidden layer ${i + 1} (--hidden)`),
    "the embedding (--embedding-dim)",
  ];
  for (let i = 0; i + 1 < widths.length; i++) {
    const weights = widths[i] * widths[i + 1];
    if (weights > MAX_TENSOR_ELEMENTS) {
      throw new MagnetInputError(
        `the layer from ${names[i]} (${widths[i]} wide) to ${names[i + 1]} (${
          widths[i + 1]
        } wide) would hold ${weights.toExponential(2)} weights; at most ${MAX_TENSOR_ELEMENTS} ` +
          "fit in one buffer: use narrower layers",
      );
    }
  }
  const batch = config.m * config.d;
  const widest = Math.max(...widths);
  if (batch * widest > MAX_TENSOR_ELEMENTS || batch * batch * batch > MAX_TENSOR_ELEMENTS * 8) {
    throw new MagnetInputError(
      `a batch of M x D = ${batch} rows is too large for layers ${widest} wide: lower --m or --d`,
    );
  }
}

/** Rows that are all the same point cannot be told apart by any embedding. */
function checkRowsDiffer(train: Dataset<Features>): void {
  const { dim } = train;
  const n = train.labels.length;
  const rows = rowSource(train.features, dim);
  // Every row equal to the first is every column constant; rows are read in chunks, and the
  // second row almost always differs already.
  const first = rows.range(0, 1, new Float32Array(dim)).slice();
  const chunk = Math.max(1, Math.floor(65536 / dim));
  const buffer = new Float32Array(chunk * dim);
  for (let start = 1; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const values = rows.range(start, count, buffer);
    for (let i = 0; i < count * dim; i++) if (values[i] !== first[i % dim]) return;
  }
  throw new MagnetInputError(
    "training data: every feature column is constant, so all rows are the same point and no " +
      "embedding can separate the classes",
  );
}

/**
 * The index needs clusters of more than one example (a cluster's spread is the loss's unit), and
 * every batch needs M - 1 clusters of classes other than its seed's.
 */
function checkClusters(train: Dataset<Features>, config: TrainConfig): void {
  const counts = new Map<number, number>();
  for (const c of train.labels) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const [c, n] of counts) {
    if (config.k >= n) {
      throw new MagnetInputError(
        `K = ${config.k} clusters per class (--k) needs more than ${config.k} training rows in ` +
          `every class, but class ${JSON.stringify(train.classNames[c])} has ${n}: its clusters ` +
          "would hold one row each, with no spread to measure; lower --k",
      );
    }
  }
  let smallestOther = Infinity;
  for (const c of counts.keys()) {
    let other = 0;
    for (const [c2, n] of counts) if (c2 !== c) other += Math.min(n, config.k);
    smallestOther = Math.min(smallestOther, other);
  }
  if (smallestOther < config.m - 1) {
    throw new MagnetInputError(
      `M = ${config.m} needs ${config.m - 1} clusters of other classes in every batch, but with ` +
        `K = ${config.k} some class has only ${smallestOther} available: lower M or raise K`,
    );
  }
}
